"""batchnorm-variance in Keras 3: Dense(32) -> BatchNormalization() -> ReLU -> Dense(10, softmax)."""

from __future__ import annotations

from paritybench.workloads.batchnorm_variance.workload import CLASSES, HIDDEN, INPUT_DIM
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output

__all__ = ["build", "loss"]


def build(keras):
    """The model with Keras's BatchNormalization defaults (momentum 0.99, epsilon 1e-3), and its variables by
    declared name: the parameters and the moving statistics (``Model.state``), read back after every step."""
    bn = keras.layers.BatchNormalization()
    model = keras.Sequential(
        [
            keras.Input(shape=(INPUT_DIM,)),
            keras.layers.Dense(HIDDEN),
            bn,
            keras.layers.Activation("relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
        ]
    )
    d0, d1 = model.layers[0], model.layers[3]
    variables = {
        "dense_0/kernel": d0.kernel,
        "dense_0/bias": d0.bias,
        "bn/gamma": bn.gamma,
        "bn/beta": bn.beta,
        "dense_1/kernel": d1.kernel,
        "dense_1/bias": d1.bias,
        "bn/moving_mean": bn.moving_mean,
        "bn/moving_variance": bn.moving_variance,
    }
    return model, variables
