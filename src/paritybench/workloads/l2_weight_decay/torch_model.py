"""l2-weight-decay in torch: ``torch.optim.SGD(weight_decay=lam)`` on the kernels.

torch's SGD (``torch/optim/sgd.py``, ``_single_tensor_sgd``): ``grad = grad.add(param, alpha=weight_decay)``
then ``param.add_(grad, alpha=-lr)``: the update is ``lr * (g + lam * w)``, as ``optax.add_decayed_weights(lam)``
gives, and half the decay of Keras's ``l2(lam)`` (``2 * lam * w``). The kernels form one parameter group with
``weight_decay=lam``, the biases another with none, as Keras's ``kernel_regularizer`` reaches only kernels.
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.torch import ce_logits
from paritybench.workloads.kit.torch import tanh_layers as layers
from paritybench.workloads.kit.torch import tanh_mlp as apply
from paritybench.workloads.l2_weight_decay.workload import LAM

__all__ = ["apply", "ce_logits", "layers", "sgd_weight_decay"]


def sgd_weight_decay(params, lr: float, lam: float = LAM) -> torch.optim.Optimizer:
    """SGD with ``weight_decay=lam`` on the kernels only (a separate parameter group for the biases)."""
    kernels = [p for k, p in params.items() if k.endswith("kernel")]
    others = [p for k, p in params.items() if not k.endswith("kernel")]
    return torch.optim.SGD(
        [{"params": kernels, "weight_decay": lam}, {"params": others, "weight_decay": 0.0}], lr=lr, foreach=False
    )
