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


MOMENTUM_PLACEMENT = "momentum_placement"
# SGD momentum's learning-rate placement (switches.momentum_lr's words): Keras's velocity takes it before the
# buffer (v = m v - lr g; w += v), optax's trace and torch's SGD after it (b = g + m b; w -= lr b)
BEFORE_BUFFER, AFTER_BUFFER = "before the buffer", "after the buffer"
MOMENTUM_PLACEMENTS = (BEFORE_BUFFER, AFTER_BUFFER)


def sgd(keras, config: dict[str, Any], placement: str):
    """A ``keras.optimizers.SGD`` of ``config`` whose learning rate is applied ``placement``: Keras's own
    ``update_step`` before the buffer; after it, optax's ``trace`` (``g + m t``, Nesterov ``g + m t_new``) then
    ``scale_by_learning_rate`` (times ``-lr``), equal at a constant learning rate, parting where it changes."""
    if placement not in MOMENTUM_PLACEMENTS:
        raise ValueError(f"momentum placement {placement!r} is not one of {MOMENTUM_PLACEMENTS}")
    ops = keras.ops

    class SGD(keras.optimizers.SGD):
        """keras.optimizers.SGD with its learning rate applied ``momentum_placement``."""

        def __init__(self, *args, momentum_placement: str = BEFORE_BUFFER, **kwargs):
            super().__init__(*args, **kwargs)
            self.momentum_placement = momentum_placement

        def update_step(self, gradient, variable, learning_rate):
            if self.momentum_placement == BEFORE_BUFFER or self.momentum == 0:
                return super().update_step(gradient, variable, learning_rate)
            # optax trace (optax/_src/transform.py): f = g + decay t, Nesterov g + decay f; then -lr
            dtype = variable.dtype
            lr = ops.cast(learning_rate, dtype)
            gradient = ops.cast(gradient, dtype)
            momentum = ops.cast(self.momentum, dtype)
            b = self.momentums[self._get_variable_index(variable)]
            self.assign(b, ops.add(gradient, ops.multiply(momentum, b)))
            step = ops.add(gradient, ops.multiply(momentum, b)) if self.nesterov else b
            self.assign_add(variable, ops.multiply(step, ops.negative(lr)))

        def get_config(self):
            return {**super().get_config(), MOMENTUM_PLACEMENT: self.momentum_placement}

    return SGD.from_config({**config, MOMENTUM_PLACEMENT: placement})


# KerasEdit keys of the optimizer that no Keras config holds: key -> (the class it takes, its values, the builder)
SUBCLASSES = {
    EPSILON_PLACEMENT: ("Adam", PLACEMENTS, adam),
    MOMENTUM_PLACEMENT: ("SGD", MOMENTUM_PLACEMENTS, sgd),
}
