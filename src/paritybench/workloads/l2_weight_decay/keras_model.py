"""l2-weight-decay in Keras 3: the 784-32-10 tanh MLP (softmax output) with ``kernel_regularizer=l2(lam)``."""

from __future__ import annotations

from paritybench.workloads.kit import keras as kit
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output
from paritybench.workloads.l2_weight_decay.workload import ADAM_LR_SCALE, LAM, SIZES

__all__ = ["adam", "adamw", "build", "loss"]


def adam(keras, lr):
    """Keras's Adam (epsilon 1e-7) at ``lr * ADAM_LR_SCALE``: Adam's default 1e-3 for the preset's 0.01."""
    return kit.adam(keras, lr * ADAM_LR_SCALE)


def build(keras, l2: float | None = None):
    """The model with ``keras.regularizers.L2(l2)`` on both Dense kernels (biases unregularized, as Keras
    users write it); ``l2`` comes from the arm's ``keras_options`` (a float, so the declaration stays
    framework-free)."""
    return kit.mlp(keras, SIZES, "tanh", "softmax", kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)


def adamw(keras, lr):
    """Keras's AdamW: decoupled decay ``w -= w * wd * lr`` before the Adam step (``base_optimizer.py``),
    on every trainable variable, biases included."""
    return keras.optimizers.AdamW(learning_rate=lr * ADAM_LR_SCALE, weight_decay=LAM, epsilon=1e-7)
