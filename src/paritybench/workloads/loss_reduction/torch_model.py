"""loss-reduction in torch: the 784-32-10 tanh MLP and ``nn.CrossEntropyLoss(weight=cw)`` on either target format.

``CrossEntropyLoss(weight=w)``'s ``'mean'`` (``torch/nn/modules/loss.py``) divides by ``sum(w_{y_n})`` for
class-index targets (``ce_weight``, twin of ``jax-weighted-mean``) but by ``N`` for class-probability targets
(``ce_weight_onehot``: one-hot rows, twin of ``jax-sum-over-batch``, Keras's reduction).
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.torch import tanh_layers as layers
from paritybench.workloads.kit.torch import tanh_mlp as apply
from paritybench.workloads.loss_reduction.workload import CLASS_WEIGHT

__all__ = ["apply", "ce_weight", "ce_weight_onehot", "layers"]


def _loss(z):
    return torch.nn.CrossEntropyLoss(weight=torch.tensor(CLASS_WEIGHT, dtype=z.dtype, device=z.device))


def ce_weight(z, y):
    """The port: ``nn.CrossEntropyLoss(weight=cw)`` on class indices (``y.argmax(-1)``), ``sum(w l) / sum(w)``."""
    return _loss(z)(z, y.argmax(dim=-1))


def ce_weight_onehot(z, y):
    """``nn.CrossEntropyLoss(weight=cw)`` on the one-hot rows as class probabilities: ``sum(w l) / n``."""
    return _loss(z)(z, y)
