"""seed-bce in torch: the forward pass over the declared (in, out) parameters and the two torch BCEs.

- ``bce``: the literal port, ``F.binary_cross_entropy(torch.sigmoid(z), y)``. aten's kernel
  (``aten/src/ATen/native/Loss.cpp``, ``binary_cross_entropy_out_cpu``) clamps each log at -100, so the loss
  of a saturated sample is 100, never inf; its backward is ``(p - y) / max(p (1 - p), 1e-12)``, finite, and
  the sigmoid's own backward multiplies it by ``p (1 - p)``, which is exactly 0 once ``p`` rounds to 1.0
  (``z > 16.64``) and once it underflows to 0.0 (``z < -88.7``): every such sample's gradient is dead,
  whatever its label. For a label-0 sample with a tiny non-zero ``p`` the product is about ``1e12 p^2``, which
  underflows too. At seed 0, window 0: 119 + 256 + 44 = 419 samples (``tools/claims.py``).
- ``bce_logits``: the fix, ``F.binary_cross_entropy_with_logits(z, y)`` (aten: ``(1 - y) z - log_sigmoid(z)``),
  finite with a live gradient for every ``z``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def apply(params, x):
    """784-1000-1, ReLU: the logit (the sigmoid is the head's); kernels in (in, out) layout, as in JAX."""
    h = torch.relu(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def bce(z, y):
    """The literal port: BCE on sigmoid probabilities (torch clamps each log at -100)."""
    return F.binary_cross_entropy(torch.sigmoid(z), y)


def bce_logits(z, y):
    """The fix: BCE from the logits."""
    return F.binary_cross_entropy_with_logits(z, y)
