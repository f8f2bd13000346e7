"""batchnorm-momentum in Keras 3: Dense(64) -> BatchNormalization() -> ReLU -> Dense(10, softmax)."""

from __future__ import annotations

from paritybench.workloads.batchnorm_momentum.workload import CLASSES, HIDDEN, INPUT_DIM
from paritybench.workloads.kit.keras import bn_mlp
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output

__all__ = ["build", "loss"]


def build(keras, momentum: float = 0.99, epsilon: float = 1e-3):
    """The model with Keras's BatchNormalization defaults (``momentum``/``epsilon`` from the arm's
    ``keras_options``), and its variables by declared name: the parameters and the moving statistics
    (``Model.state``), which the worker reads back after every step."""
    return bn_mlp(keras, INPUT_DIM, HIDDEN, CLASSES, momentum=momentum, epsilon=epsilon)
