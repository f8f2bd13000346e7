"""batchnorm-variance in JAX: 784-32-BN-ReLU-10 with Keras's BatchNormalization and the torch port's.

Every variant is ``apply(params, x, state=None, training=True) -> (logits, new_state)``: the stateful
forward pass the generic trainers thread the moving statistics through (``Model.state``).

- ``apply`` (the fix): Keras 3's ``BatchNormalization`` op for op (``keras/src/layers/normalization/
  batch_normalization.py``: ``moving = moving * momentum + batch * (1 - momentum)``, momentum 0.99, the biased
  batch variance ``jnp.var`` as ``keras/src/backend/jax/nn.py`` ``moments`` takes it; ``batch_normalization``:
  ``inv = rsqrt(var + eps) * gamma; x * inv + (beta - mean * inv)``, eps 1e-3).
- ``apply_unbiased`` (the torch port's rule): the same, but the moving variance takes ``var * n / (n - 1)``,
  as ``torch.nn.BatchNorm1d(momentum=0.01, eps=1e-3)`` updates its ``running_var``. Training is bit-identical
  to the fix (the output uses the batch's biased variance either way); only evaluation mode differs.
"""

from __future__ import annotations

from paritybench.workloads.batchnorm_variance.workload import EPSILON, KERAS_MOMENTUM, PARAMS, STATE, STATE_INIT
from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import batchnorm as kit_batchnorm
from paritybench.workloads.kit.jax import bn_mlp

__all__ = ["apply", "apply_unbiased", "batchnorm", "init"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def batchnorm(h, gamma, beta, mean_avg, var_avg, *, training: bool, unbiased_running_var: bool):
    """``kit.jax.batchnorm`` at Keras's momentum and epsilon: (output, new moving mean, new moving variance).
    The output always uses the biased batch variance (Keras and torch alike); ``unbiased_running_var`` makes the
    moving variance take ``var * n / (n - 1)``, as torch's does."""
    return kit_batchnorm(
        h,
        gamma,
        beta,
        mean_avg,
        var_avg,
        training=training,
        keep=KERAS_MOMENTUM,
        eps=EPSILON,
        unbiased_running_var=unbiased_running_var,
    )


def _forward(params, x, state, training, unbiased_running_var):
    return bn_mlp(
        params,
        x,
        state,
        training,
        (STATE, STATE_INIT),
        keep=KERAS_MOMENTUM,
        eps=EPSILON,
        unbiased_running_var=unbiased_running_var,
    )


def apply(params, x, state=None, training=True):
    """Keras's BatchNormalization(): the biased batch variance in the moving variance."""
    return _forward(params, x, state, training, unbiased_running_var=False)


def apply_unbiased(params, x, state=None, training=True):
    """The torch port's rule: the unbiased batch variance in the moving variance."""
    return _forward(params, x, state, training, unbiased_running_var=True)
