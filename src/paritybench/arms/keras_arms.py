"""The Keras arms: Keras 3 ``Sequential`` with a sigmoid output, trained by
``fit`` exactly as the seed did, one process per backend.

The training itself lives in ``paritybench.keras_worker`` because the backend
is fixed when Keras is imported; these specs tell the runner which process an
arm needs and which framework must be installed for it.
"""

from __future__ import annotations

from .base import ArmSpec

BACKENDS = ("tensorflow", "jax", "torch")

_WHY = {
    "tensorflow": "BCE from the logits its sigmoid output caches (_keras_logits)",
    "jax": "BCE on p clipped to [1e-7, 1-1e-7] (no logits cache on this backend)",
    "torch": "BCE on p clipped to [1e-7, 1-1e-7] via torch's binary_cross_entropy",
}

ARMS = [
    ArmSpec(f"keras-{b}", f"Keras 3 fit, {b} backend: {_WHY[b]}", f"keras-{b}", f"keras:{b}",
            None, ("keras", b))
    for b in BACKENDS
]
