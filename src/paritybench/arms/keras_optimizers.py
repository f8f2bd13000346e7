"""Keras optimizers with a convention Keras has no setting for, written with Keras's own machinery: a subclass of
a ``keras.optimizers`` class (``subclass``) whose ``update_step`` takes one more setting, a constructor keyword
its ``get_config`` keeps, and runs the class's own ``update_step`` at Keras's value of it, another formula
otherwise. Three are kept, one per ``KerasEdit`` key of ``SUBCLASSES``:

- ``epsilon_placement`` (Adam): Keras's Adam adds epsilon to the uncorrected ``sqrt(v)`` and folds both bias
  corrections into the step size (``keras/src/optimizers/adam.py`` ``update_step``: ``alpha = lr sqrt(1 - b2^t) /
  (1 - b1^t)``, ``w -= m alpha / (sqrt(v) + eps)``); optax's ``scale_by_adam`` and ``torch.optim.Adam`` add it to
  ``sqrt(v_hat)``, after the bias correction (``w -= lr m_hat / (sqrt(v_hat) + eps)``). With ``KERAS`` selected
  the subclass calls Adam's own ``update_step`` (the same update, bit for bit on the JAX and TensorFlow backends:
  tests); with ``AFTER`` it runs optax's formula (``update_moment``: ``m = b1 m + (1 - b1) g``, likewise ``v`` of
  ``g^2``; ``bias_correction``; then the step), equal to optax's Adam to float32 rounding (tests).
- ``momentum_placement`` (SGD): the learning rate before the momentum buffer (Keras) or after it (optax, torch).
- ``coupled_weight_decay`` (any optimizer): ``g + lam w`` handed to the class's own ``update_step`` (optax's
  ``add_decayed_weights(lam)`` before the optimizer, ``torch.optim``'s ``weight_decay`` of every optimizer but
  AdamW), on every variable the optimizer updates; Keras's own ``weight_decay`` is decoupled (``w -= lr wd w``).

On Keras's torch backend ``keras.optimizers.Adam`` itself is replaced by ``TorchAdam`` (a ``torch._foreach``
update, ``keras/src/backend/torch/optimizers``), which a subclass is not: there the subclass runs ``update_step``
variable by variable.

A Keras arm gets one from a ``KerasEdit("optimizer", CLS, KEY, VALUE)`` (explain's "adam epsilon placement",
"momentum learning-rate placement" and "weight decay coefficient" switches), applied by
``keras_worker.edit_config``; its conventions rows read the setting back (``optimizer.epsilon placement``, ...)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EPSILON_PLACEMENT = "epsilon_placement"
KERAS = "sqrt(v) + eps, before bias correction (epsilon-hat)"
AFTER = "sqrt(v_hat) + eps, after bias correction"
PLACEMENTS = (KERAS, AFTER)

MOMENTUM_PLACEMENT = "momentum_placement"
# SGD momentum's learning-rate placement (switches.momentum_lr's words): Keras's velocity takes it before the
# buffer (v = m v - lr g; w += v), optax's trace and torch's SGD after it (b = g + m b; w -= lr b)
BEFORE_BUFFER, AFTER_BUFFER = "before the buffer", "after the buffer"
MOMENTUM_PLACEMENTS = (BEFORE_BUFFER, AFTER_BUFFER)

COUPLED_WEIGHT_DECAY = "coupled_weight_decay"

# update_step(self, own, gradient, variable, learning_rate): ``own`` is the Keras class's update_step, bound
Formula = Callable[[Any, Callable, Any, Any, Any], Any]


def subclass(cls, key: str, keras_value: Any, formula: Formula, keras_own: Callable[[Any], bool] = lambda o: False):
    """A subclass of the Keras optimizer class ``cls``, under its name, taking ``key`` as a constructor keyword
    (default ``keras_value``) and keeping it in ``get_config``: its ``update_step`` is ``cls``'s own where the key
    is ``keras_value`` or ``keras_own(self)`` holds (a setting the formula does not cover: Adam's amsgrad), else
    ``formula(self, own, gradient, variable, learning_rate)``."""

    class Sub(cls):
        def __init__(self, *args, **kwargs):
            value = kwargs.pop(key, keras_value)
            super().__init__(*args, **kwargs)
            setattr(self, key, value)

        def update_step(self, gradient, variable, learning_rate):
            own = super().update_step
            if getattr(self, key) == keras_value or keras_own(self):
                return own(gradient, variable, learning_rate)
            return formula(self, own, gradient, variable, learning_rate)

        def get_config(self):
            return {**super().get_config(), key: getattr(self, key)}

    Sub.__name__, Sub.__qualname__ = cls.__name__, cls.__qualname__
    Sub.__doc__ = f"{cls.__module__}.{cls.__qualname__} with {key} (paritybench.arms.keras_optimizers)"
    return Sub


def _adam_after(keras):
    ops = keras.ops

    def update_step(self, own, gradient, variable, learning_rate):
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
        self.assign(m, ops.add(ops.multiply(ops.cast(1 - b1, dtype), gradient), ops.multiply(ops.cast(b1, dtype), m)))
        self.assign(
            v,
            ops.add(ops.multiply(ops.cast(1 - b2, dtype), ops.square(gradient)), ops.multiply(ops.cast(b2, dtype), v)),
        )
        # optax bias_correction: 1 - decay**count in float32
        m_hat = ops.divide(m, 1 - ops.power(ops.cast(b1, dtype), step))
        v_hat = ops.divide(v, 1 - ops.power(ops.cast(b2, dtype), step))
        update = ops.divide(m_hat, ops.add(ops.sqrt(v_hat), ops.cast(self.epsilon, dtype)))
        self.assign_add(variable, ops.multiply(update, -lr))

    return update_step


def _sgd_after_buffer(keras):
    ops = keras.ops

    def update_step(self, own, gradient, variable, learning_rate):
        # optax trace (optax/_src/transform.py): f = g + decay t, Nesterov g + decay f; then -lr
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.cast(gradient, dtype)
        momentum = ops.cast(self.momentum, dtype)
        b = self.momentums[self._get_variable_index(variable)]
        self.assign(b, ops.add(gradient, ops.multiply(momentum, b)))
        step = ops.add(gradient, ops.multiply(momentum, b)) if self.nesterov else b
        self.assign_add(variable, ops.multiply(step, ops.negative(lr)))

    return update_step


def _coupled_decay(keras):
    ops = keras.ops

    def update_step(self, own, gradient, variable, learning_rate):
        # optax add_decayed_weights (optax/_src/transform.py): g + weight_decay * p; torch's coupled
        # weight_decay: grad.add(param, alpha=weight_decay); then the class's own update of that gradient
        dtype = variable.dtype
        lam = ops.cast(self.coupled_weight_decay, dtype)
        return own(ops.add(ops.cast(gradient, dtype), ops.multiply(lam, variable)), variable, learning_rate)

    return update_step


@dataclass(frozen=True)
class Setting:
    """A ``KerasEdit`` key of the optimizer that no Keras config holds: the class that takes it (None: any
    ``keras.optimizers`` class), Keras's own value, the values it takes (None: any float >= 0), the formula
    otherwise, and where the class's own update runs anyway."""

    cls: str | None
    keras_value: Any
    values: tuple | None
    formula: Callable[[Any], Formula]
    keras_own: Callable[[Any], bool] = lambda o: False

    def problem(self, value: Any) -> str | None:
        if self.values is None:
            ok = isinstance(value, int | float) and not isinstance(value, bool) and value >= 0
            return None if ok else f"{value!r} is not a coefficient (a number >= 0)"
        return None if value in self.values else f"the placement must be one of {', '.join(self.values)}"


# in the order the subclasses are stacked: a later one's formula runs first and hands its gradient on, so the
# coupled decay (which calls the update below it) is last, the placements (which replace the update) first
SUBCLASSES = {
    EPSILON_PLACEMENT: Setting("Adam", KERAS, PLACEMENTS, _adam_after, keras_own=lambda o: bool(o.amsgrad)),
    MOMENTUM_PLACEMENT: Setting(
        "SGD", BEFORE_BUFFER, MOMENTUM_PLACEMENTS, _sgd_after_buffer, keras_own=lambda o: o.momentum == 0
    ),
    COUPLED_WEIGHT_DECAY: Setting(None, 0.0, None, _coupled_decay),
}


def build(keras, cls, config: dict[str, Any], settings: dict[str, Any]):
    """An optimizer of class ``cls`` from ``config`` (its ``get_config()``) with ``settings`` (keys of
    ``SUBCLASSES``) stacked on it as subclasses, in ``SUBCLASSES``' order."""
    for key, s in SUBCLASSES.items():
        if key in settings:
            if (why := s.problem(settings[key])) is not None:
                raise ValueError(f"{key}: {why}")
            cls = subclass(cls, key, s.keras_value, s.formula(keras), s.keras_own)
    return cls.from_config({**config, **settings})


def rebuilt(keras, obj, settings: dict[str, Any]):
    """The optimizer ``obj`` rebuilt from its config with ``settings`` (keys of ``SUBCLASSES``) added to those it
    has already (``obj`` may be one of these subclasses: its Keras class is the first class of its MRO that this
    module did not write)."""
    cfg = obj.get_config()
    own = {k: cfg.pop(k) for k in SUBCLASSES if k in cfg}
    base = next(c for c in type(obj).__mro__ if c.__module__ != __name__)
    return build(keras, base, cfg, {**own, **settings})


def adam(keras, config: dict[str, Any], placement: str):
    """A ``keras.optimizers.Adam`` of ``config`` (its ``get_config()``) whose epsilon is placed as ``placement``."""
    return build(keras, keras.optimizers.Adam, config, {EPSILON_PLACEMENT: placement})


def sgd(keras, config: dict[str, Any], placement: str):
    """A ``keras.optimizers.SGD`` of ``config`` whose learning rate is applied ``placement``: Keras's own
    ``update_step`` before the buffer; after it, optax's ``trace`` (``g + m t``, Nesterov ``g + m t_new``) then
    ``scale_by_learning_rate`` (times ``-lr``), equal at a constant learning rate, parting where it changes."""
    return build(keras, keras.optimizers.SGD, config, {MOMENTUM_PLACEMENT: placement})
