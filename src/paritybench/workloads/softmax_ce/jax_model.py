"""softmax-ce in JAX: stax's initial weights, the forward pass, and the four categorical CE formulations
it compares (the kit's, ``kit/losses.py``, with the numerics at the line): ``naive`` (NaN where a probability
underflows), ``keras_clip`` and ``keras_torch_clip`` (Keras's JAX and torch backends: p renormalised and
clipped, the clip's gradient zero for every sample whose true class has p < 1e-7) and ``logits`` (the fix).
"""

from __future__ import annotations

import numpy as np

from paritybench.workloads.kit import jax as mlp
from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.jax import maximum_layers as layers
from paritybench.workloads.kit.jax import maximum_mlp as apply
from paritybench.workloads.kit.losses import ce_naive as naive
from paritybench.workloads.softmax_ce.workload import SIZES

__all__ = ["apply", "init", "layers", "naive"]


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """stax's ``serial(Dense(1000), Relu, Dense(10))`` init at ``PRNGKey(seed)`` (old threefry unless told)."""
    return mlp.stax_init(SIZES, seed, threefry_partitionable)
