"""adam-epsilon in Keras 3: 784-32-10 tanh with a softmax output, categorical CE, Adam(epsilon=...)."""

from __future__ import annotations

from paritybench.workloads.adam_epsilon.workload import BETA_1, BETA_2, CLASSES, EPSILON, HIDDEN, INPUT_DIM


def build(keras, kernel_regularizer=None):
    """The model; ``kernel_regularizer`` (a Keras regularizer or None) goes on both Dense kernels only,
    as Keras users write it (``l2-weight-decay`` passes one through ``Arm.keras_options``)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(INPUT_DIM,)),
            keras.layers.Dense(HIDDEN, activation="tanh", kernel_regularizer=kernel_regularizer),
            keras.layers.Dense(CLASSES, activation="softmax", kernel_regularizer=kernel_regularizer),
        ]
    )
    variables = {
        "dense_0/kernel": model.layers[0].kernel,
        "dense_0/bias": model.layers[0].bias,
        "dense_1/kernel": model.layers[1].kernel,
        "dense_1/bias": model.layers[1].bias,
    }
    return model, variables


def loss(keras):
    """``categorical_crossentropy`` on the softmax output (``from_logits=False``), as one writes it."""
    return keras.losses.categorical_crossentropy


def adam(keras, lr):
    """Keras's Adam with the model's epsilon (Keras's default 1e-7): epsilon-hat, outside the bias correction."""
    return keras.optimizers.Adam(learning_rate=lr, beta_1=BETA_1, beta_2=BETA_2, epsilon=EPSILON)
