"""dropout-rng in Keras 3: Dense(64, relu) -> Dropout(RATE, seed=SEED) -> Dense(10, softmax), categorical CE.

The Dropout layer's ``SeedGenerator`` state ([seed, counter], ``keras/src/random/seed_generator.py``) is the model
state ``dropout/seed``: the worker sets it per case and reads it after every step, as it does BatchNormalization's
moving statistics.
"""

from __future__ import annotations

from paritybench.workloads.dropout_rng.workload import RATE, SEED, SIZES
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output

__all__ = ["build", "loss"]


def build(keras):
    model = keras.Sequential(
        [
            keras.Input(shape=(SIZES[0],)),
            keras.layers.Dense(SIZES[1], activation="relu"),
            keras.layers.Dropout(RATE, seed=SEED),
            keras.layers.Dense(SIZES[2], activation="softmax"),
        ]
    )
    d0, drop, d1 = model.layers
    return model, {
        "dense_0/kernel": d0.kernel,
        "dense_0/bias": d0.bias,
        "dense_1/kernel": d1.kernel,
        "dense_1/bias": d1.bias,
        "dropout/seed": drop.seed_generator.state,
    }
