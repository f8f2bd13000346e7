"""tf32-matmul in Keras 3: 784-512-512-1, ReLU, sigmoid output, BCE on it."""

from __future__ import annotations

from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import binary_crossentropy as loss  # on the sigmoid output
from paritybench.workloads.tf32_matmul.workload import SIZES

__all__ = ["build", "loss"]


def build(keras):
    return kit.mlp(keras, SIZES, "relu", "sigmoid")
