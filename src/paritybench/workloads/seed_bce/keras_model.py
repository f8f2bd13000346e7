"""seed-bce in Keras 3: the model as the seed built it, and its loss."""

from __future__ import annotations

from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import binary_crossentropy as loss  # the seed compiled with it
from paritybench.workloads.seed_bce.workload import SIZES

__all__ = ["build", "loss"]


def build(keras):
    """``Sequential`` 784-1000-1 with a sigmoid output, and its variables by declared name."""
    return kit.mlp(keras, SIZES, "relu", "sigmoid")
