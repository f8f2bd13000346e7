"""batchnorm-momentum in torch: 784-64-BN-ReLU-10 with ``F.batch_norm`` at torch's defaults.

``F.batch_norm(training=True, momentum=0.1, eps=1e-5)`` (``torch/nn/functional.py``; aten
``batch_norm_cpu_update_stats_template``) normalises with the batch's biased variance and updates
``running = (1 - momentum) * running + momentum * batch`` with the UNBIASED batch variance: torch's
momentum is the share of the new batch taken. That is ``jax_model.apply_torch`` (``jax-torch-bn``).
"""

from __future__ import annotations

from paritybench.workloads.batchnorm_momentum.workload import STATE, STATE_INIT, TORCH_EPSILON, TORCH_MOMENTUM
from paritybench.workloads.kit.torch import bn_mlp, ce_logits

__all__ = ["apply", "ce_logits"]


def apply(params, x, state=None, training=True):
    """``(logits, new_state)``; the running statistics are updated on copies (the caller's state is kept)."""
    return bn_mlp(params, x, state, training, (STATE, STATE_INIT), momentum=TORCH_MOMENTUM, eps=TORCH_EPSILON)
