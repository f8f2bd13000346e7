"""seed-bce in Keras 3: the model as the seed built it, and its loss."""

from __future__ import annotations

from paritybench.workloads.seed_bce.workload import HIDDEN, INPUT_DIM


def build(keras):
    """``Sequential`` 784-1000-1 with a sigmoid output, and its variables by declared name."""
    model = keras.Sequential(
        [
            keras.Input(shape=(INPUT_DIM,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
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
    """What the seed compiled with: BCE on the sigmoid output (``from_logits=False``)."""
    return keras.losses.binary_crossentropy
