"""flatten-order in Keras 3: Reshape + Conv2D(4, 3, strides=2, "valid", relu) + Flatten + Dense(1, sigmoid)."""

from __future__ import annotations

from paritybench.workloads.flatten_order.workload import FILTERS, KERNEL, SIDE, STRIDE
from paritybench.workloads.kit.keras import binary_crossentropy as loss
from paritybench.workloads.kit.keras import conv_classifier  # on the sigmoid output

__all__ = ["build", "loss"]


def build(keras):
    """The model as a Keras user writes it (channels-last, Keras's default ``image_data_format``)."""
    return conv_classifier(
        keras, SIDE, lambda layers: [layers.Conv2D(FILTERS, KERNEL, strides=STRIDE, padding="valid", activation="relu")]
    )
