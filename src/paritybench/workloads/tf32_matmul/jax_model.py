"""tf32-matmul in JAX: initial weights and the forward pass at an explicit matmul precision; the BCE
formulations its arms train with are the kit's (``kit/bce.py``, ``kit/losses.py``)."""

from __future__ import annotations

from jax import lax

from paritybench.workloads.kit import jax as mlp
from paritybench.workloads.kit.bce import keras_clip as keras_clip
from paritybench.workloads.kit.bce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.bce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.tf32_matmul.workload import PARAMS

init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def apply_highest(params, x):
    """784-512-512-1 at Precision.HIGHEST: full float32 products on every backend. The logit (n, 1).
    The precision is given per dot: an explicit Precision is not overridden by the process's
    jax_default_matmul_precision."""
    return mlp.mlp(params, x, "relu", lax.Precision.HIGHEST)


def apply_default(params, x):
    """The same at Precision.DEFAULT: TF32 inputs to the tensor cores on an Ampere+ GPU."""
    return mlp.mlp(params, x, "relu", lax.Precision.DEFAULT)
