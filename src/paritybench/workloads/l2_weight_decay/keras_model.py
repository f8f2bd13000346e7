"""l2-weight-decay in Keras 3: adam-epsilon's 784-32-10 tanh model with ``kernel_regularizer=l2(lam)``."""

from __future__ import annotations

from paritybench.workloads.adam_epsilon import keras_model as base
from paritybench.workloads.l2_weight_decay.workload import ADAM_LR_SCALE, LAM

loss = base.loss


def adam(keras, lr):
    """Keras's Adam (epsilon 1e-7) at ``lr * ADAM_LR_SCALE``: Adam's default 1e-3 for the preset's 0.01."""
    return base.adam(keras, lr * ADAM_LR_SCALE)


def build(keras, l2: float | None = None):
    """The model with ``keras.regularizers.L2(l2)`` on both Dense kernels (biases unregularized, as Keras
    users write it); ``l2`` comes from the arm's ``keras_options`` (a float, so the declaration stays
    framework-free)."""
    return base.build(keras, kernel_regularizer=keras.regularizers.L2(l2) if l2 else None)


def adamw(keras, lr):
    """Keras's AdamW: decoupled decay ``w -= w * wd * lr`` before the Adam step (``base_optimizer.py``),
    on every trainable variable, biases included."""
    return keras.optimizers.AdamW(learning_rate=lr * ADAM_LR_SCALE, weight_decay=LAM, epsilon=1e-7)
