"""adam-epsilon in Keras 3: 784-32-10 tanh with a softmax output, categorical CE, Adam(epsilon=...)."""

from __future__ import annotations

from paritybench.workloads.adam_epsilon.workload import BETA_1, BETA_2, EPSILON, SIZES
from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output

__all__ = ["adam", "build", "loss"]


def build(keras):
    return kit.mlp(keras, SIZES, "tanh", "softmax")


def adam(keras, lr):
    """Keras's Adam with the model's epsilon (Keras's default 1e-7): epsilon-hat, outside the bias correction."""
    return kit.adam(keras, lr, BETA_1, BETA_2, EPSILON)
