"""fit-shuffle in torch: the 784-32-10 tanh model and CE from logits. A torch loop over
``DataLoader(dataset, batch_size)`` trains in window order: ``shuffle=False`` is the DataLoader's default
(``torch/utils/data/dataloader.py``: ``SequentialSampler`` unless ``shuffle=True``), the opposite of Keras's
``fit``."""

from __future__ import annotations

from paritybench.workloads.kit.torch import ce_logits
from paritybench.workloads.kit.torch import tanh_layers as layers
from paritybench.workloads.kit.torch import tanh_mlp as apply

__all__ = ["apply", "ce_logits", "layers"]
