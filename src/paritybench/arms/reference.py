"""``reference-f64``: NumPy float64, BCE from logits, hand-derived gradient.

The ground truth the float32 arms are measured against: float64 has no
saturation problem at these logits and its rounding is ~1e-16, so what it
computes is the exact SGD trajectory to far below any float32 difference.
"""

from __future__ import annotations

import math

import numpy as np

from ..model import PARAM_NAMES, Weights, check_weights, count_correct
from .base import ArmResult, ArmSpec, TrainSpec


def loss_and_grad(w: Weights, x: np.ndarray, y: np.ndarray) -> tuple[float, Weights, np.ndarray]:
    """Mean logits-BCE, its gradient, and the logits, all in float64."""
    n = x.shape[0]
    a = x @ w["dense_0/kernel"] + w["dense_0/bias"]
    h = np.maximum(a, 0.0)
    z = h @ w["dense_1/kernel"] + w["dense_1/bias"]
    # log(1 + exp(z)) - y z, written with logaddexp so large |z| stays finite.
    loss = float(np.mean(np.logaddexp(0.0, z) - y * z))
    dz = (0.5 * (1.0 + np.tanh(0.5 * z)) - y) / n  # sigmoid via tanh: no overflow
    dh = (dz @ w["dense_1/kernel"].T) * (a > 0)
    grads = {
        "dense_1/kernel": h.T @ dz,
        "dense_1/bias": dz.sum(axis=0),
        "dense_0/kernel": x.T @ dh,
        "dense_0/bias": dh.sum(axis=0),
    }
    return loss, grads, z


def train(init: Weights, x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> ArmResult:
    check_weights(init)
    w = {k: np.array(init[k], dtype=np.float64) for k in PARAM_NAMES}
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n = x.shape[0]
    curves: dict[str, list] = {"loss": [], "correct": [], "grad_norm": [], "nonfinite": []}
    for k in range(spec.steps + 1):
        loss, grads, z = loss_and_grad(w, x64, y64)
        curves["loss"].append(loss)
        curves["correct"].append(count_correct(z, y64, 0.0))
        curves["nonfinite"].append(not (math.isfinite(loss) and all(np.all(np.isfinite(v)) for v in w.values())))
        if k == spec.steps:
            break
        curves["grad_norm"].append(math.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
        w = {name: w[name] - spec.lr * grads[name] for name in PARAM_NAMES}
    curves["accuracy"] = [c / n for c in curves["correct"]]
    # The artifact keeps float32 final weights like every other arm; the float64
    # trajectory is what the comparisons in the tests and the report use.
    return ArmResult(curves=curves, final_weights={k: v.astype(np.float32) for k, v in w.items()},
                     info={"grad_norm_source": "analytic", "final_weights_f64": w})


def evaluate_correct(weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
    """Float64 forward pass for the weight swap: z > 0 (sigmoid(z) > 0.5 exactly)."""
    from ..model import forward_logits

    return count_correct(forward_logits(weights, x, np.float64), y, 0.0)


ARMS = [
    ArmSpec("reference-f64", "NumPy float64, BCE from logits: the ground truth", "main", "logits_f64",
            train, ()),
]
