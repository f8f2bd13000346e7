"""seed-bce in JAX: stax's initial weights as the seed drew them, the forward pass, and the five BCE
formulations it compares (the kit's, ``kit/losses.py``, where each one's numerics are explained):

- ``naive``: log of a saturated p is -inf: the loss inf, the gradient NaN, every weight NaN;
- ``seed_stable``, ``keras_clip``: a clip on p keeps the loss finite but its gradient is zero for every
  saturated sample;
- ``keras_torch_clip``: the same clip with torch 2.15's clamp gradient (zero at the bounds as well as outside);
- ``logits``: BCE from logits, finite with a live gradient for every logit: the fix.
"""

from __future__ import annotations

import numpy as np

from paritybench.workloads.kit import jax as mlp
from paritybench.workloads.kit.jax import maximum_layers as layers
from paritybench.workloads.kit.jax import maximum_mlp as apply
from paritybench.workloads.kit.losses import KERAS_EPSILON, torch_clip
from paritybench.workloads.kit.losses import bce_keras_clip as keras_clip
from paritybench.workloads.kit.losses import bce_keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.losses import bce_logits as logits
from paritybench.workloads.kit.losses import bce_naive as naive
from paritybench.workloads.kit.losses import bce_seed_stable as seed_stable
from paritybench.workloads.seed_bce.workload import SIZES

__all__ = [
    "KERAS_EPSILON",
    "apply",
    "init",
    "keras_clip",
    "keras_torch_clip",
    "layers",
    "logits",
    "naive",
    "seed_stable",
    "torch_clip",
]


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """The one source of initial weights: the seed's ``stax.serial(Dense(1000), Relu, Dense(1), Sigmoid)``
    init at ``PRNGKey(seed)`` (old threefry unless told)."""
    return mlp.stax_init(SIZES, seed, threefry_partitionable, trailing_sigmoid=True)
