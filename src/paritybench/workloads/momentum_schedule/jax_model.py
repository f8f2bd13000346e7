"""momentum-schedule in JAX: initial weights, the forward pass, and SGD with momentum under a step schedule,
written the optax way (the port) and Keras's way (the fix).

- ``optax_sgd_literal``: ``optax.sgd(schedule, momentum)`` = ``chain(trace(m), scale_by_learning_rate(schedule))``
  (``optax/_src/alias.py``): ``b = m*b + g``, then the whole buffer times ``-lr_k``.
- ``keras_momentum``: ``chain(scale_by_learning_rate(schedule), trace(m))``: ``u = m*u + (-lr_k * g)``, which is
  Keras's velocity ``v = m*v - lr_k*g`` (``keras/src/optimizers/sgd.py``), the update ``w += v``; the same
  float32 operations as Keras's (``-(g*lr) + v*m``).
- ``optax_nesterov_literal`` / ``keras_nesterov``: the same two with Nesterov momentum (``trace(nesterov=True)``:
  ``g + m * t`` with the new ``t``; Keras: ``w += m*v - lr_k*g``); pinned by tests, not trained by an arm.
"""

from __future__ import annotations

import optax

from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import tanh_layers as layers
from paritybench.workloads.kit.jax import tanh_mlp as apply
from paritybench.workloads.momentum_schedule.workload import DROP_EVERY, GAMMA, MOMENTUM, PARAMS

__all__ = [
    "apply",
    "init",
    "keras_momentum",
    "keras_nesterov",
    "layers",
    "optax_nesterov_literal",
    "optax_sgd_literal",
    "schedule",
]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def schedule(lr: float) -> optax.Schedule:
    """``lr * GAMMA ** floor(count / DROP_EVERY)``: Keras's ``ExponentialDecay(lr, DROP_EVERY, GAMMA,
    staircase=True)`` in optax."""
    return optax.exponential_decay(lr, transition_steps=DROP_EVERY, decay_rate=GAMMA, staircase=True)


def optax_sgd_literal(lr: float, momentum: float = MOMENTUM) -> optax.GradientTransformation:
    """The literal port: ``optax.sgd`` with the Keras model's schedule and momentum."""
    return optax.sgd(schedule(lr), momentum=momentum)


def keras_momentum(lr: float, momentum: float = MOMENTUM) -> optax.GradientTransformation:
    """Keras's SGD momentum in optax: the learning rate applied before the trace."""
    return optax.chain(optax.scale_by_learning_rate(schedule(lr)), optax.trace(decay=momentum))


def optax_nesterov_literal(lr: float, momentum: float = MOMENTUM) -> optax.GradientTransformation:
    """``optax.sgd(..., nesterov=True)``: ``w -= lr_k * (g + m * b)`` with ``b = m*b + g``."""
    return optax.sgd(schedule(lr), momentum=momentum, nesterov=True)


def keras_nesterov(lr: float, momentum: float = MOMENTUM) -> optax.GradientTransformation:
    """Keras's SGD(nesterov=True) in optax: ``v = m*v - lr_k*g; w += m*v - lr_k*g``."""
    return optax.chain(optax.scale_by_learning_rate(schedule(lr)), optax.trace(decay=momentum, nesterov=True))
