"""flatten-order in Keras 3: Reshape + Conv2D(4, 3, strides=2, "valid", relu) + Flatten + Dense(1, sigmoid)."""

from __future__ import annotations

from paritybench.workloads.flatten_order.workload import FILTERS, KERNEL, SIDE, STRIDE
from paritybench.workloads.kit.keras import binary_crossentropy as loss  # on the sigmoid output

__all__ = ["build", "loss"]


def build(keras):
    """The model as a Keras user writes it (channels-last, Keras's default ``image_data_format``)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(SIDE * SIDE,)),
            keras.layers.Reshape((SIDE, SIDE, 1)),
            keras.layers.Conv2D(FILTERS, KERNEL, strides=STRIDE, padding="valid", activation="relu"),
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
