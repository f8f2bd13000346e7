"""momentum-schedule in Keras 3: 784-32-10 tanh with a softmax output, categorical CE, SGD with momentum under
``ExponentialDecay(lr, decay_steps, decay_rate, staircase=True)`` (a step schedule)."""

from __future__ import annotations

from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output
from paritybench.workloads.momentum_schedule.workload import DROP_EVERY, GAMMA, MOMENTUM, SIZES

__all__ = ["build", "loss", "sgd", "sgd_nesterov"]


def build(keras):
    return kit.mlp(keras, SIZES, "tanh", "softmax")


def sgd(keras, lr, nesterov: bool = False):
    """``keras.optimizers.SGD`` with momentum and the step schedule (evaluated at ``iterations``)."""
    decay = keras.optimizers.schedules.ExponentialDecay(lr, DROP_EVERY, GAMMA, staircase=True)
    return keras.optimizers.SGD(learning_rate=decay, momentum=MOMENTUM, nesterov=nesterov)


def sgd_nesterov(keras, lr):
    """``sgd`` with ``nesterov=True``: ``w += m*v - lr_k*g`` with the new ``v``."""
    return sgd(keras, lr, nesterov=True)
