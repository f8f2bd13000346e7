"""pool-padding in Keras 3: Reshape + Cropping2D(4) + Conv2D(4, 3, "valid", relu) + AveragePooling2D(3, 2, "same")
+ Flatten + Dense(1, sigmoid)."""

from __future__ import annotations

from paritybench.workloads.kit.keras import binary_crossentropy as loss
from paritybench.workloads.kit.keras import conv_classifier  # on the sigmoid output
from paritybench.workloads.pool_padding.workload import CROP, FILTERS, KERNEL, POOL, POOL_STRIDE, SIDE

__all__ = ["build", "loss"]


def build(keras):
    """The model as a Keras user writes it (channels-last)."""
    return conv_classifier(
        keras,
        SIDE,
        lambda layers: [
            layers.Cropping2D(CROP),
            layers.Conv2D(FILTERS, KERNEL, padding="valid", activation="relu"),
            layers.AveragePooling2D(POOL, strides=POOL_STRIDE, padding="same"),
        ],
    )
