"""adam-epsilon in torch: the 784-32-10 tanh model, CE from logits and ``torch.optim.Adam`` with the Keras
model's epsilon value.

torch's Adam (``torch/optim/adam.py``, ``_single_tensor_adam``): ``denom = sqrt(v) / sqrt(1 - b2^t) + eps``,
``w -= lr / (1 - b1^t) * m / denom``: eps is added to the bias-corrected ``sqrt(v_hat)``, as optax's
``scale_by_adam`` does, not to Keras's uncorrected ``sqrt(v)``. So ``Adam(eps=1e-7)`` is the optax literal
port (``jax-adam-literal``), not Keras's optimizer.
"""

from __future__ import annotations

from paritybench.workloads.adam_epsilon.workload import BETA_1, BETA_2, EPSILON
from paritybench.workloads.kit import torch as kit
from paritybench.workloads.kit.torch import ce_logits
from paritybench.workloads.kit.torch import tanh_layers as layers
from paritybench.workloads.kit.torch import tanh_mlp as apply

__all__ = ["adam", "apply", "ce_logits", "layers"]


def adam(params, lr: float, eps: float = EPSILON):
    """``torch.optim.Adam`` with the Keras model's betas and epsilon value (the literal port in torch), the
    single-tensor loop (``kit.torch.adam``)."""
    return kit.adam(params, lr, eps, (BETA_1, BETA_2))
