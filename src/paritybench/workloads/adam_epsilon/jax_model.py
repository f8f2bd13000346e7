"""adam-epsilon in JAX: initial weights, the forward pass, and three ways to write Adam.

- ``optax_adam_literal``: what a port writes, ``optax.adam(lr, eps=1e-7)`` with the Keras model's epsilon
  value. optax adds eps to the bias-corrected ``sqrt(v_hat)`` (``optax/_src/transform.py``:
  ``m_hat / (sqrt(v_hat + eps_root) + eps)``), as torch does.
- ``keras_adam``: Keras 3's ``Adam.update_step`` (``keras/src/optimizers/adam.py``) op for op, as an optax
  transform: eps is added to the *uncorrected* ``sqrt(v)`` and the bias corrections are folded into the step
  size ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)`` (Kingma & Ba's "epsilon-hat").
- ``optax_adam_eps_scaled``: the same update in optax's vocabulary: ``optax.adam`` whose eps is a schedule,
  ``eps / sqrt(1 - b2^t)`` at step t (``optax.inject_hyperparams``), the exact relation between the two
  conventions (``workload.optax_equivalent_eps``).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from paritybench.workloads.adam_epsilon.workload import BETA_1, BETA_2, EPSILON, PARAMS
from paritybench.workloads.softmax_ce.jax_model import keras_clip, keras_torch_clip, logits

__all__ = [
    "apply",
    "init",
    "keras_adam",
    "keras_clip",
    "keras_torch_clip",
    "layers",
    "logits",
    "optax_adam_eps_scaled",
    "optax_adam_literal",
]


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """Keras's Dense defaults (glorot_uniform kernels, zero biases) drawn from NumPy's generator at ``seed``.

    JAX's PRNG is not involved, so ``threefry_partitionable`` changes nothing here.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in PARAMS.items():
        if name.endswith("kernel"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        else:
            out[name] = np.zeros(shape, np.float32)
    return out


def apply(params, x):
    """784-32-10, tanh: the ten logits (the softmax is the head's). tanh, not ReLU: a smooth model keeps
    float32 rounding at ~1e-7 over the steps, so the gap measured is the optimizer's, not a ReLU flipping."""
    h = jnp.tanh(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def layers(params, x):
    """Each named layer's output in forward order (``Model.jax_layers``): the first Dense's pre-activation and
    its tanh (Keras's ``Dense(activation="tanh")`` output); the second Dense's output is the logits."""
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    return {"dense_0": h, "dense_0/tanh": jnp.tanh(h)}


class KerasAdamState(NamedTuple):
    """Keras's optimizer state: the step counter (``iterations``) and the two moments."""

    count: jax.Array
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

    In float64 (the reference arm) the same code is Keras's convention computed exactly.
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


def optax_adam_literal(lr: float) -> optax.GradientTransformation:
    """The literal port: ``optax.adam`` given the Keras model's epsilon value (and betas)."""
    return optax.adam(lr, b1=BETA_1, b2=BETA_2, eps=EPSILON)


def optax_adam_eps_scaled(lr: float) -> optax.GradientTransformation:
    """The fix in optax's vocabulary: ``optax.adam`` with eps a schedule, eps / sqrt(1 - b2^t) at step t.

    ``inject_hyperparams`` evaluates a schedule at the count *before* the update (0 at the first step),
    hence ``count + 1``. Equal to Keras's update in exact arithmetic; in float32 the two differ by rounding.
    """

    def eps_at(count):
        t = (count + 1).astype(jnp.float32)
        return EPSILON / jnp.sqrt(1 - jnp.power(jnp.float32(BETA_2), t))

    # b1 and b2 stay Python floats (static): injected, they become float32 arrays and optax computes
    # 1 - b2 in float32 (9.9998713e-4, not 1e-3), a 1.3e-5 relative change of the bias correction that
    # `paritybench localize` measured at 88-106x the noise floor against the float64 arbiter.
    return optax.inject_hyperparams(optax.adam, static_args=("b1", "b2"))(
        learning_rate=lr, b1=BETA_1, b2=BETA_2, eps=eps_at
    )
