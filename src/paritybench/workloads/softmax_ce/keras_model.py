"""softmax-ce in Keras 3: 784-1000-10 with a softmax output, and categorical cross-entropy on it."""

from __future__ import annotations

from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output
from paritybench.workloads.softmax_ce.workload import SIZES

__all__ = ["build", "loss"]


def build(keras):
    return kit.mlp(keras, SIZES, "relu", "softmax")
