"""adam-epsilon in torch: the 784-32-10 tanh model, CE from logits and ``torch.optim.Adam`` with the Keras
model's epsilon value.

torch's Adam (``torch/optim/adam.py``, ``_single_tensor_adam``): ``denom = sqrt(v) / sqrt(1 - b2^t) + eps``,
``w -= lr / (1 - b1^t) * m / denom``: eps is added to the bias-corrected ``sqrt(v_hat)``, as optax's
``scale_by_adam`` does, not to Keras's uncorrected ``sqrt(v)``. So ``Adam(eps=1e-7)`` is the optax literal
port (``jax-adam-literal``), not Keras's optimizer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from paritybench.workloads.adam_epsilon.workload import BETA_1, BETA_2, EPSILON


def apply(params, x):
    """784-32-10, tanh: the ten logits (the softmax is the head's)."""
    h = torch.tanh(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def ce_logits(z, y):
    """Categorical CE from logits against one-hot labels (``F.cross_entropy`` with class probabilities)."""
    return F.cross_entropy(z, y)


def adam(params, lr: float, eps: float = EPSILON) -> torch.optim.Optimizer:
    """``torch.optim.Adam`` with the Keras model's betas and epsilon value (the literal port in torch).
    ``foreach=False``: the single-tensor loop, the same arithmetic on every device."""
    return torch.optim.Adam(list(params.values()), lr=lr, betas=(BETA_1, BETA_2), eps=eps, foreach=False)
