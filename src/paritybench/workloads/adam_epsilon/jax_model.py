"""adam-epsilon in JAX: initial weights, the forward pass, and three ways to write Adam.

- ``optax_adam_literal``: what a port writes, ``optax.adam(lr, eps=1e-7)`` with the Keras model's epsilon
  value. optax adds eps to the bias-corrected ``sqrt(v_hat)`` (``optax/_src/transform.py``:
  ``m_hat / (sqrt(v_hat + eps_root) + eps)``), as torch does.
- ``keras_adam``: Keras 3's ``Adam.update_step`` (``keras/src/optimizers/adam.py``) op for op, as an optax
  transform (``kit/optimizers.py``): eps is added to the *uncorrected* ``sqrt(v)`` and the bias corrections
  are folded into the step size ``alpha = lr * sqrt(1 - b2^t) / (1 - b1^t)`` (Kingma & Ba's "epsilon-hat").
- ``optax_adam_eps_scaled``: the same update in optax's vocabulary: ``optax.adam`` whose eps is a schedule,
  ``eps / sqrt(1 - b2^t)`` at step t (``optax.inject_hyperparams``), the exact relation between the two
  conventions (``workload.optax_equivalent_eps``).
"""

from __future__ import annotations

import jax.numpy as jnp
import optax

from paritybench.workloads.adam_epsilon.workload import BETA_1, BETA_2, EPSILON, PARAMS
from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import tanh_layers as layers
from paritybench.workloads.kit.jax import tanh_mlp as apply
from paritybench.workloads.kit.optimizers import keras_adam

__all__ = ["apply", "init", "keras_adam", "layers", "optax_adam_eps_scaled", "optax_adam_literal"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


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
