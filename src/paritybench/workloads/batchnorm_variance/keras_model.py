"""batchnorm-variance in Keras 3: Dense(32) -> BatchNormalization() -> ReLU -> Dense(10, softmax)."""

from __future__ import annotations

from paritybench.workloads.batchnorm_variance.workload import CLASSES, HIDDEN, INPUT_DIM
from paritybench.workloads.kit.keras import bn_mlp
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output

__all__ = ["build", "loss"]


def build(keras):
    """The model with Keras's BatchNormalization defaults (momentum 0.99, epsilon 1e-3), and its variables by
    declared name: the parameters and the moving statistics (``Model.state``), read back after every step."""
    return bn_mlp(keras, INPUT_DIM, HIDDEN, CLASSES)
