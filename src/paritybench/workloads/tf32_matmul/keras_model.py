"""tf32-matmul in Keras 3: 784-512-512-1, ReLU, sigmoid output."""

from __future__ import annotations

from paritybench.workloads.tf32_matmul.workload import HIDDEN, INPUT_DIM


def build(keras):
    model = keras.Sequential(
        [
            keras.Input(shape=(INPUT_DIM,)),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(HIDDEN, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    variables = {}
    for i, layer in enumerate(model.layers):
        variables[f"dense_{i}/kernel"], variables[f"dense_{i}/bias"] = layer.kernel, layer.bias
    return model, variables
