"""dropout-rng in torch: the same MLP with torch's dropout convention (``torch/nn/functional.py``, ``dropout``:
``p`` is the drop probability, kept values scaled by 1 / (1 - p), identity when ``training`` is False).

The mask is ``torch.bernoulli(full(1 - p), generator=g)`` with ``g = torch.Generator().manual_seed(S + k)`` from the
state [S, k]: how Keras's torch backend draws a seeded dropout (``keras/src/backend/torch/random.py``,
``torch_seed_generator`` and ``dropout``), so this arm and ``keras-torch`` draw the same masks, and neither draws
JAX's.
"""

from __future__ import annotations

import torch

from paritybench.workloads.dropout_rng.workload import RATE
from paritybench.workloads.kit.torch import ce_logits

__all__ = ["apply", "ce_logits"]


def apply(params, x, state, training: bool = True):
    h = torch.relu(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    seed = state["dropout/seed"]
    if training:
        s, k = (int(v) for v in seed.detach().cpu().tolist())
        g = torch.Generator(device=h.device).manual_seed((s + k) & 0xFFFFFFFF)
        keep = 1.0 - RATE
        mask = torch.bernoulli(torch.full(h.shape, keep, device=h.device), generator=g)
        h = torch.where(mask.bool(), h / keep, torch.zeros_like(h))
        seed = seed + torch.tensor([0, 1], dtype=seed.dtype, device=seed.device)
    z = h @ params["dense_1/kernel"] + params["dense_1/bias"]
    return z, {"dropout/seed": seed}
