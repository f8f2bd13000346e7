"""label-shape in Keras 3: 784-128-1 with a sigmoid output, and the BCE Keras users compile with."""

from __future__ import annotations

from paritybench.workloads.label_shape.workload import HIDDEN, INPUT_DIM


def build(keras):
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
    """``binary_crossentropy`` handed to ``compile``: Keras wraps it in ``LossFunctionWrapper``, whose ``call``
    aligns y_true's rank with y_pred's (``squeeze_or_expand_to_same_rank``) before the function runs."""
    return keras.losses.binary_crossentropy
