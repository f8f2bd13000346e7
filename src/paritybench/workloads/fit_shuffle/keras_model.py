"""fit-shuffle in Keras 3: 784-32-10 tanh with a softmax output, categorical CE, SGD (the arms' ``shuffle_seed``
decides ``fit``'s batch order)."""

from __future__ import annotations

from paritybench.workloads.fit_shuffle.workload import SIZES
from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output

__all__ = ["build", "loss"]


def build(keras):
    return kit.mlp(keras, SIZES, "tanh", "softmax")
