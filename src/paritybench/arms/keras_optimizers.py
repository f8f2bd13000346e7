"""Keras optimizers with a convention Keras has no setting for, written with Keras's own machinery: a subclass of
``keras.optimizers.Adam`` whose ``update_step`` takes an ``epsilon_placement``. Keras's Adam adds epsilon to the
uncorrected ``sqrt(v)`` and folds both bias corrections into the step size (``keras/src/optimizers/adam.py``
``update_step``: ``alpha = lr sqrt(1 - b2^t) / (1 - b1^t)``, ``w -= m alpha / (sqrt(v) + eps)``); optax's
``scale_by_adam`` and ``torch.optim.Adam`` add it to ``sqrt(v_hat)``, after the bias correction
(``w -= lr m_hat / (sqrt(v_hat) + eps)``). With ``KERAS`` selected the subclass calls Adam's own ``update_step``
(the same update, bit for bit on the JAX and TensorFlow backends: tests); with ``AFTER`` it runs optax's formula
(``update_moment``: ``m = b1 m + (1 - b1) g``, likewise ``v`` of ``g^2``; ``bias_correction``; then the step),
equal to optax's Adam to float32 rounding (tests). On Keras's torch backend ``keras.optimizers.Adam`` itself is
replaced by ``TorchAdam`` (a ``torch._foreach`` update, ``keras/src/backend/torch/optimizers``), which a subclass
is not: there the subclass runs ``update_step`` variable by variable.

A Keras arm gets it from a ``KerasEdit("optimizer", "Adam", EPSILON_PLACEMENT, AFTER)`` (explain's "adam epsilon
placement" switch), applied by ``keras_worker.edit_config``; its get_config keeps the placement, and its
conventions row ``optimizer.epsilon placement`` reads it."""

from __future__ import annotations

from typing import Any

EPSILON_PLACEMENT = "epsilon_placement"
KERAS = "sqrt(v) + eps, before bias correction (epsilon-hat)"
AFTER = "sqrt(v_hat) + eps, after bias correction"
PLACEMENTS = (KERAS, AFTER)


def adam(keras, config: dict[str, Any], placement: str):
    """A ``keras.optimizers.Adam`` of ``config`` (its ``get_config()``) whose epsilon is placed as ``placement``."""
    if placement not in PLACEMENTS:
        raise ValueError(f"epsilon placement {placement!r} is not one of {PLACEMENTS}")
    ops = keras.ops

    class Adam(keras.optimizers.Adam):
        """keras.optimizers.Adam with its epsilon placed as ``epsilon_placement``."""

        def __init__(self, *args, epsilon_placement: str = KERAS, **kwargs):
            super().__init__(*args, **kwargs)
            self.epsilon_placement = epsilon_placement

        def update_step(self, gradient, variable, learning_rate):
            if self.epsilon_placement == KERAS or self.amsgrad:
                return super().update_step(gradient, variable, learning_rate)
            # optax scale_by_adam (optax/_src/transform.py): update_moment, update_moment_per_elem_norm,
            # bias_correction, then m_hat / (sqrt(v_hat) + eps); scale_by_learning_rate multiplies by -lr
            dtype = variable.dtype
            lr = ops.cast(learning_rate, dtype)
            gradient = ops.cast(gradient, dtype)
            step = ops.cast(self.iterations + 1, dtype)
            # 1 - b in Python's float64 then rounded, as optax's (1 - decay) (1 - float32(0.999) is 1.3e-5 off)
            b1, b2 = float(self.beta_1), float(self.beta_2)
            m = self._momentums[self._get_variable_index(variable)]
            v = self._velocities[self._get_variable_index(variable)]
            self.assign(
                m, ops.add(ops.multiply(ops.cast(1 - b1, dtype), gradient), ops.multiply(ops.cast(b1, dtype), m))
            )
            self.assign(
                v,
                ops.add(
                    ops.multiply(ops.cast(1 - b2, dtype), ops.square(gradient)), ops.multiply(ops.cast(b2, dtype), v)
                ),
            )
            # optax bias_correction: 1 - decay**count in float32
            m_hat = ops.divide(m, 1 - ops.power(ops.cast(b1, dtype), step))
            v_hat = ops.divide(v, 1 - ops.power(ops.cast(b2, dtype), step))
            update = ops.divide(m_hat, ops.add(ops.sqrt(v_hat), ops.cast(self.epsilon, dtype)))
            self.assign_add(variable, ops.multiply(update, -lr))

        def get_config(self):
            return {**super().get_config(), EPSILON_PLACEMENT: self.epsilon_placement}

    return Adam.from_config({**config, EPSILON_PLACEMENT: placement})
