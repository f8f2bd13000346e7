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

from paritybench.workloads.batchnorm_momentum.workload import (
    KERAS_EPSILON,
    KERAS_MOMENTUM,
    PARAMS,
    STATE,
    STATE_INIT,
    TORCH_EPSILON,
    TORCH_MOMENTUM,
)
from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import batchnorm, bn_mlp

__all__ = ["apply", "apply_momentum_literal", "apply_torch", "batchnorm", "init"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def _forward(params, x, state, training, **bn):
    return bn_mlp(params, x, state, training, (STATE, STATE_INIT), **bn)


def apply(params, x, state=None, training=True):
    """Keras's BatchNormalization(momentum=0.99, epsilon=1e-3): the faithful port."""
    return _forward(params, x, state, training, keep=KERAS_MOMENTUM, eps=KERAS_EPSILON)


def apply_momentum_literal(params, x, state=None, training=True):
    """torch's momentum=0.1 handed to a Keras-convention BN: keeps 10% of the old average."""
    return _forward(params, x, state, training, keep=TORCH_MOMENTUM, eps=KERAS_EPSILON)


def apply_torch(params, x, state=None, training=True):
    """torch's BatchNorm1d defaults: takes 10% of the new batch (unbiased variance), eps 1e-5."""
    return _forward(params, x, state, training, keep=1.0 - TORCH_MOMENTUM, eps=TORCH_EPSILON, unbiased_running_var=True)
