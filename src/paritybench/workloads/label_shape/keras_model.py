"""label-shape in Keras 3: 784-128-1 with a sigmoid output, and the BCE Keras users compile with.

``loss``: ``binary_crossentropy`` handed to ``compile``: Keras wraps it in ``LossFunctionWrapper``, whose
``call`` aligns y_true's rank with y_pred's (``squeeze_or_expand_to_same_rank``) before the function runs.
"""

from __future__ import annotations

from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import binary_crossentropy as loss
from paritybench.workloads.label_shape.workload import SIZES

__all__ = ["build", "loss"]


def build(keras):
    return kit.mlp(keras, SIZES, "relu", "sigmoid")
