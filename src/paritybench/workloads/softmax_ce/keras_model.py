"""softmax-ce in Keras 3: 784-1000-10 with a softmax output, and categorical cross-entropy on it."""

from __future__ import annotations

from paritybench.workloads.softmax_ce.workload import CLASSES, HIDDEN, INPUT_DIM


def build(keras):
    model = keras.Sequential(
        [
            keras.Input(shape=(INPUT_DIM,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(CLASSES, activation="softmax"),
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
