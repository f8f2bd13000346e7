"""batchnorm-variance in torch: 784-32-BN-ReLU-10 with Keras's BatchNormalization settings translated.

- ``apply`` (the port): ``F.batch_norm(training=True, momentum=0.01, eps=1e-3)`` (``torch/nn/functional.py``;
  aten ``batch_norm_cpu_update_stats_template``), what ``nn.BatchNorm1d(32, momentum=0.01, eps=1e-3)`` runs:
  the batch is normalised with its biased variance, ``running_var = 0.99 * running_var + 0.01 * var_unbiased``
  (``torch/nn/modules/batchnorm.py`` :321-324). That is ``jax_model.apply_unbiased`` (``jax-unbiased-var``).
- ``apply_biased`` (the fix in torch): ``F.batch_norm`` with no running statistics (it normalises with the
  batch's own), and the moving averages updated by hand with ``var(unbiased=False)``, Keras's rule
  (``jax_model.apply``, ``jax-keras-bn``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from paritybench.workloads.batchnorm_variance.workload import (
    EPSILON,
    KERAS_MOMENTUM,
    STATE,
    STATE_INIT,
    TORCH_MOMENTUM,
)
from paritybench.workloads.kit.torch import bn_head, bn_initial, bn_mlp, ce_logits

__all__ = ["apply", "apply_biased", "ce_logits"]


def apply(params, x, state=None, training=True):
    """``(logits, new_state)``; the running statistics are updated on copies (the caller's state is kept)."""
    return bn_mlp(params, x, state, training, (STATE, STATE_INIT), momentum=TORCH_MOMENTUM, eps=EPSILON)


def apply_biased(params, x, state=None, training=True):
    """``(logits, new_state)`` with Keras's moving variance: the biased batch variance, averaged by hand."""
    state = bn_initial(x, (STATE, STATE_INIT)) if state is None else state
    mean, var = state["bn/moving_mean"], state["bn/moving_variance"]
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    if training:
        out = F.batch_norm(h, None, None, params["bn/gamma"], params["bn/beta"], training=True, eps=EPSILON)
        with torch.no_grad():
            mean = mean * KERAS_MOMENTUM + h.mean(0) * (1.0 - KERAS_MOMENTUM)
            var = var * KERAS_MOMENTUM + h.var(0, unbiased=False) * (1.0 - KERAS_MOMENTUM)
    else:
        out = F.batch_norm(h, mean, var, params["bn/gamma"], params["bn/beta"], training=False, eps=EPSILON)
    return bn_head(params, out), {"bn/moving_mean": mean, "bn/moving_variance": var}
