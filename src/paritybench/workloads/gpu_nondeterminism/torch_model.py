"""gpu-nondeterminism in torch: the embedding bag as a torch port writes it, ``table[tokens].sum(1)``.

The table's gradient is an indexed accumulation of (n * 784) rows into 3136 with collisions
(``index_put_`` with ``accumulate=True`` in the backward of advanced indexing), which torch runs with
atomic adds on CUDA unless ``torch.use_deterministic_algorithms(True)`` (paritybench's deterministic
flags) selects its sorted, deterministic kernel. On a CPU it is deterministic either way.
"""

from __future__ import annotations

import torch

from paritybench.workloads.gpu_nondeterminism.workload import BINS, PIXELS


def tokens(x):
    """Token ids (n, 784): position * BINS + the pixel's intensity bin (as ``jax_model.tokens``)."""
    b = torch.clamp(torch.floor(x * BINS), 0, BINS - 1).to(torch.int64)
    return torch.arange(PIXELS, device=x.device, dtype=torch.int64) * BINS + b


def apply_gather(params, x):
    """The bag by lookup and sum, the ReLU, the dense head: the logit (n, 1)."""
    bag = params["embedding/table"][tokens(x)].sum(dim=1)
    return torch.relu(bag) @ params["dense/kernel"] + params["dense/bias"]
