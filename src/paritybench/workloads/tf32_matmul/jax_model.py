"""tf32-matmul in JAX: initial weights and the forward pass at an explicit matmul precision."""

from __future__ import annotations

import jax
import numpy as np
from jax import lax

from paritybench.workloads.tf32_matmul.workload import PARAMS


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """Keras's defaults drawn with NumPy (glorot_uniform kernels, zero biases); no JAX draw, so
    ``threefry_partitionable`` does not apply."""
    del threefry_partitionable
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in PARAMS.items():
        if name.endswith("kernel"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        else:
            out[name] = np.zeros(shape, np.float32)
    return out


def _mlp(params, x, precision: lax.Precision):
    # The precision is given per dot: an explicit Precision is not overridden by the process's
    # jax_default_matmul_precision (jax/_src/lax/lax.py canonicalize_precision: only None reads it).
    h = x
    for i in range(2):
        h = jax.nn.relu(lax.dot(h, params[f"dense_{i}/kernel"], precision=precision) + params[f"dense_{i}/bias"])
    return lax.dot(h, params["dense_2/kernel"], precision=precision) + params["dense_2/bias"]


def apply_highest(params, x):
    """784-512-512-1 at Precision.HIGHEST: full float32 products on every backend. The logit (n, 1)."""
    return _mlp(params, x, lax.Precision.HIGHEST)


def apply_default(params, x):
    """The same at Precision.DEFAULT: TF32 inputs to the tensor cores on an Ampere+ GPU."""
    return _mlp(params, x, lax.Precision.DEFAULT)
