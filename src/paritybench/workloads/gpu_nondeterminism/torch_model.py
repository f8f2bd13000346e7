"""gpu-nondeterminism in torch: the embedding bag as a torch port writes it, ``table[tokens].sum(1)``.

The table's gradient is an indexed accumulation of (n * 784) rows into 3136 with collisions
(``index_put_`` with ``accumulate=True``, the backward of advanced indexing). On CUDA, aten sends every
accumulating ``index_put_`` to the sorted path (``index_put_with_sort_stub`` in
``TensorAdvancedIndexing.cpp``: sort the indices, then sum each run), so this port is deterministic
without any flag: measured bit-identical across two fresh processes on an H200 with and without the
deterministic flags (results/baselines/gpu-nondeterminism-gpu*.json), where JAX's scatter-add is not.
"""

from __future__ import annotations

import torch

from paritybench.workloads.gpu_nondeterminism.workload import BINS, PIXELS
from paritybench.workloads.kit.torch import bce_logits

__all__ = ["apply_gather", "bce_logits", "tokens"]


def tokens(x):
    """Token ids (n, 784): position * BINS + the pixel's intensity bin (as ``jax_model.tokens``)."""
    b = torch.clamp(torch.floor(x * BINS), 0, BINS - 1).to(torch.int64)
    return torch.arange(PIXELS, device=x.device, dtype=torch.int64) * BINS + b


def apply_gather(params, x):
    """The bag by lookup and sum, the ReLU, the dense head: the logit (n, 1)."""
    bag = params["embedding/table"][tokens(x)].sum(dim=1)
    return torch.relu(bag) @ params["dense/kernel"] + params["dense/bias"]
