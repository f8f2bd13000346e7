"""The float64 arbiter of a one-hidden-layer ReLU MLP (``dense_0``, ``dense_1``) with a sigmoid head:
the forward pass and the BCE-from-logits gradient written out in NumPy.

The ground truth the float32 arms are measured against: float64 has no
saturation problem at these logits and its rounding is ~1e-16, so what it
computes is the exact SGD trajectory to far below any float32 difference.
(Kept hand-derived rather than JAX-in-float64 so that its trajectory, and so
every committed baseline's reference hash, stays bit-identical.)
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit


def forward(w, x: np.ndarray) -> np.ndarray:
    """The logit, in float64."""
    w = {k: np.asarray(v, np.float64) for k, v in w.items()}
    h = np.maximum(np.asarray(x, np.float64) @ w["dense_0/kernel"] + w["dense_0/bias"], 0)
    return h @ w["dense_1/kernel"] + w["dense_1/bias"]


def loss_and_grad(w, x: np.ndarray, y: np.ndarray):
    """Mean logits-BCE, its gradient, and the logits, all in float64."""
    n = x.shape[0]
    a = x @ w["dense_0/kernel"] + w["dense_0/bias"]
    h = np.maximum(a, 0.0)
    z = h @ w["dense_1/kernel"] + w["dense_1/bias"]
    # log(1 + exp(z)) - y z, written with logaddexp so large |z| stays finite.
    loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
    dz = (expit(z) - y) / n  # expit: a sigmoid that neither overflows nor warns
    dh = (dz @ w["dense_1/kernel"].T) * (a > 0)
    grads = {
        "dense_1/kernel": h.T @ dz,
        "dense_1/bias": dz.sum(axis=0),
        "dense_0/kernel": x.T @ dh,
        "dense_0/bias": dh.sum(axis=0),
    }
    return loss, grads, z
