"""same-padding in Keras 3: Reshape + Conv2D(8, 3, strides=2) + Flatten + Dense(1, sigmoid)."""

from __future__ import annotations

from paritybench.workloads.kit.keras import binary_crossentropy as loss  # on the sigmoid output
from paritybench.workloads.same_padding.workload import FILTERS, KERNEL, SIDE, STRIDE

__all__ = ["build", "loss"]


def build(keras, padding: str = "same"):
    """The model as a Keras user writes it; ``padding`` is the Conv2D's (the workload's arms use "same")."""
    model = keras.Sequential(
        [
            keras.Input(shape=(SIDE * SIDE,)),
            keras.layers.Reshape((SIDE, SIDE, 1)),
            keras.layers.Conv2D(FILTERS, KERNEL, strides=STRIDE, padding=padding, activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    conv, dense = model.layers[1], model.layers[3]
    return model, {
        f"{name}/{v}": getattr(layer, v)
        for name, layer in (("conv", conv), ("dense", dense))
        for v in ("kernel", "bias")
    }
