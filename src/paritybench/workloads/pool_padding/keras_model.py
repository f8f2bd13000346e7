"""pool-padding in Keras 3: Reshape + Cropping2D(4) + Conv2D(4, 3, "valid", relu) + AveragePooling2D(3, 2, "same")
+ Flatten + Dense(1, sigmoid)."""

from __future__ import annotations

from paritybench.workloads.kit.keras import binary_crossentropy as loss  # on the sigmoid output
from paritybench.workloads.pool_padding.workload import CROP, FILTERS, KERNEL, POOL, POOL_STRIDE, SIDE

__all__ = ["build", "loss"]


def build(keras):
    """The model as a Keras user writes it (channels-last)."""
    model = keras.Sequential(
        [
            keras.Input(shape=(SIDE * SIDE,)),
            keras.layers.Reshape((SIDE, SIDE, 1)),
            keras.layers.Cropping2D(CROP),
            keras.layers.Conv2D(FILTERS, KERNEL, padding="valid", activation="relu"),
            keras.layers.AveragePooling2D(POOL, strides=POOL_STRIDE, padding="same"),
            keras.layers.Flatten(),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    conv, dense = model.layers[2], model.layers[5]
    return model, {
        f"{name}/{v}": getattr(layer, v)
        for name, layer in (("conv", conv), ("dense", dense))
        for v in ("kernel", "bias")
    }
