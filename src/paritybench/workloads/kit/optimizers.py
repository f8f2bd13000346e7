"""Keras's Adam as an optax transform: the JAX emulation of ``keras.optimizers.Adam``.

Keras adds epsilon to the *uncorrected* ``sqrt(v)`` and folds the bias corrections into the step size
``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)`` (Kingma & Ba's "epsilon-hat"); optax and torch add it to the
bias-corrected ``sqrt(v_hat)``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax

# keras/src/optimizers/adam.py's defaults
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-7


class KerasAdamState(NamedTuple):
    """Keras's optimizer state: the step counter (``iterations``) and the two moments."""

    # named as optax's ScaleByAdamState names it; as a NamedTuple field it shadows tuple.count
    count: jax.Array  # type: ignore[assignment]
    mu: Any
    nu: Any


def keras_adam(
    learning_rate: float, beta_1: float = BETA_1, beta_2: float = BETA_2, epsilon: float = EPSILON
) -> optax.GradientTransformation:
    """Keras 3's Adam update as an optax transform, in the parameters' own dtype.

    Written to follow ``keras/src/optimizers/adam.py`` ``update_step`` exactly, because the emulation must
    reproduce Keras to 1e-6 after a step and Adam divides by ``sqrt(v)``, which magnifies any rounding
    difference in the tiny-gradient coordinates where epsilon matters:

    - ``b^t`` is ``power(cast(b, dtype), cast(t, dtype))`` and ``1 - b^t`` is computed in that dtype;
    - the moment decays ``1 - beta`` are Python doubles rounded once to the dtype (``f32(0.001)``), not
      ``1 - f32(0.999)`` = 0.00099998713, 1.3e-5 relative off 1e-3: enough to part from Keras in the
      coordinates where epsilon matters;
    - ``w -= (m * alpha) / (sqrt(v) + eps)``; optax's ``apply_updates`` adds the negated quotient, which
      is the same IEEE operation.

    In float64 (a reference arm) the same code is Keras's convention computed exactly.
    """

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, params)
        return KerasAdamState(jnp.zeros([], jnp.int32), zeros, jax.tree.map(jnp.zeros_like, params))

    def update_fn(grads, state, params=None):
        del params
        count = state.count + 1

        def moments(g, m, v):
            dt = g.dtype
            m = m + (g - m) * jnp.asarray(1 - beta_1, dt)
            v = v + (jnp.square(g) - v) * jnp.asarray(1 - beta_2, dt)
            return m, v

        def step(m, v):
            dt = m.dtype
            t = count.astype(dt)
            b1p = jnp.power(jnp.asarray(beta_1, dt), t)
            b2p = jnp.power(jnp.asarray(beta_2, dt), t)
            alpha = jnp.asarray(learning_rate, dt) * jnp.sqrt(1 - b2p) / (1 - b1p)
            return -((m * alpha) / (jnp.sqrt(v) + jnp.asarray(epsilon, dt)))

        mv = jax.tree.map(moments, grads, state.mu, state.nu)
        mu = jax.tree.map(lambda _, p: p[0], grads, mv)
        nu = jax.tree.map(lambda _, p: p[1], grads, mv)
        updates = jax.tree.map(step, mu, nu)
        return updates, KerasAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)
