"""batchnorm-momentum in JAX: 784-64-BN-ReLU-10 and BatchNormalization written three ways.

Every variant is ``apply(params, x, state=None, training=True) -> (logits, new_state)``: the stateful
forward pass the generic trainers thread the moving statistics through (``Model.state``).

- ``apply`` (the fix): Keras 3's ``BatchNormalization`` op for op (``keras/src/layers/normalization/
  batch_normalization.py``: ``moving = moving * momentum + batch * (1 - momentum)``, momentum 0.99 = the
  share of the OLD average kept; biased batch variance ``jnp.var``; ``keras/src/backend/jax/nn.py``
  ``batch_normalization``: ``inv = rsqrt(var + eps) * gamma; x * inv + (beta - mean * inv)``, eps 1e-3).
- ``apply_momentum_literal`` (the port): torch's ``momentum=0.1`` copied into that Keras-style formula
  (huggingface/transformers#19454): the average keeps 10% of the old value and takes 90% of the batch.
  Same epsilon, so training is bit-identical to the fix; only evaluation mode differs.
- ``apply_torch`` (the port written the torch way): ``running = 0.9 * running + 0.1 * batch`` with the
  UNBIASED batch variance for the running variance (``torch/nn/modules/batchnorm.py``), eps 1e-5 (also
  flax's): the training output differs through epsilon, the moving statistics through all three.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from paritybench.workloads.batchnorm_momentum.workload import (
    KERAS_EPSILON,
    KERAS_MOMENTUM,
    PARAMS,
    STATE,
    STATE_INIT,
    TORCH_EPSILON,
    TORCH_MOMENTUM,
)
from paritybench.workloads.kit.init import glorot_uniform
from paritybench.workloads.kit.losses import ce_keras_clip as keras_clip
from paritybench.workloads.kit.losses import ce_keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.losses import ce_logits as logits

__all__ = [
    "apply",
    "apply_momentum_literal",
    "apply_torch",
    "batchnorm",
    "init",
    "keras_clip",
    "keras_torch_clip",
    "logits",
]


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """Keras's defaults drawn from NumPy's generator at ``seed``: glorot_uniform kernels, zero biases,
    gamma 1, beta 0. JAX's PRNG is not involved, so ``threefry_partitionable`` changes nothing here."""
    return glorot_uniform(PARAMS, seed)


def batchnorm(
    h, gamma, beta, mean_avg, var_avg, *, training: bool, keep: float, eps: float, unbiased_running_var: bool = False
):
    """One BatchNormalization over axis 0: (output, new moving mean, new moving variance).

    ``keep`` is the share of the old moving average kept per update (Keras's ``momentum``; torch's is
    ``1 - momentum``). The output always uses the biased batch variance (Keras, flax and torch alike);
    ``unbiased_running_var`` makes the moving variance take ``var * n / (n - 1)``, as torch's does.
    """
    if training:
        mean = jnp.mean(h, axis=0)
        var = jnp.var(h, axis=0)
        n = h.shape[0]
        var_for_avg = var * (n / (n - 1)) if unbiased_running_var else var
        new_mean = mean_avg * keep + mean * (1.0 - keep)
        new_var = var_avg * keep + var_for_avg * (1.0 - keep)
    else:
        mean, var, new_mean, new_var = mean_avg, var_avg, mean_avg, var_avg
    inv = jax.lax.rsqrt(var + eps) * gamma
    return h * inv + (beta - mean * inv), new_mean, new_var


def _forward(params, x, state, training, **bn):
    state = state if state is not None else {k: jnp.full(s, STATE_INIT[k], x.dtype) for k, s in STATE.items()}
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    h, m, v = batchnorm(
        h,
        params["bn/gamma"],
        params["bn/beta"],
        state["bn/moving_mean"],
        state["bn/moving_variance"],
        training=training,
        **bn,
    )
    h = jnp.maximum(h, 0)
    z = h @ params["dense_1/kernel"] + params["dense_1/bias"]
    # the moving statistics are state, not parameters: no gradient flows into them
    return z, {"bn/moving_mean": jax.lax.stop_gradient(m), "bn/moving_variance": jax.lax.stop_gradient(v)}


def apply(params, x, state=None, training=True):
    """Keras's BatchNormalization(momentum=0.99, epsilon=1e-3): the faithful port."""
    return _forward(params, x, state, training, keep=KERAS_MOMENTUM, eps=KERAS_EPSILON)


def apply_momentum_literal(params, x, state=None, training=True):
    """torch's momentum=0.1 handed to a Keras-convention BN: keeps 10% of the old average."""
    return _forward(params, x, state, training, keep=TORCH_MOMENTUM, eps=KERAS_EPSILON)


def apply_torch(params, x, state=None, training=True):
    """torch's BatchNorm1d defaults: takes 10% of the new batch (unbiased variance), eps 1e-5."""
    return _forward(params, x, state, training, keep=1.0 - TORCH_MOMENTUM, eps=TORCH_EPSILON, unbiased_running_var=True)
