"""same-padding in Keras 3: Reshape + Conv2D(8, 3, strides=2) + Flatten + Dense(1, sigmoid)."""

from __future__ import annotations

from paritybench.workloads.kit.keras import binary_crossentropy as loss
from paritybench.workloads.kit.keras import conv_classifier  # on the sigmoid output
from paritybench.workloads.same_padding.workload import FILTERS, KERNEL, SIDE, STRIDE

__all__ = ["build", "loss"]


def build(keras, padding: str = "same"):
    """The model as a Keras user writes it; ``padding`` is the Conv2D's (the workload's arms use "same")."""
    return conv_classifier(
        keras, SIDE, lambda layers: [layers.Conv2D(FILTERS, KERNEL, strides=STRIDE, padding=padding, activation="relu")]
    )
