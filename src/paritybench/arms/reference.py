"""``reference-f64``: NumPy float64, BCE from logits, hand-derived gradient.

The ground truth the float32 arms are measured against: float64 has no
saturation problem at these logits and its rounding is ~1e-16, so what it
computes is the exact SGD trajectory to far below any float32 difference.
"""

from __future__ import annotations

import math
import time

import numpy as np
from scipy.special import expit

from ..diagnostics import PER_STEP, SATURATION_LOGIT
from ..model import PARAM_NAMES, Weights, check_weights, count_correct
from .base import ArmResult, ArmSpec, TrainSpec, weights_nonfinite


def loss_and_grad(w: Weights, x: np.ndarray, y: np.ndarray) -> tuple[float, Weights, np.ndarray]:
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


def train(init: Weights, x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> ArmResult:
    """Plain SGD in float64 from ``init``; curves, diagnostics and (optionally) the trajectory."""
    check_weights(init)
    t0 = time.perf_counter()
    w = {k: np.array(init[k], dtype=np.float64) for k in PARAM_NAMES}
    x64, y64 = np.asarray(x, np.float64), np.asarray(y, np.float64)
    n = x.shape[0]
    names = ("loss", "correct", "grad_norm", "nonfinite", *PER_STEP)
    curves: dict[str, list] = {k: [] for k in names}
    traj, grad_list = [], []
    for k in range(spec.steps + 1):
        loss, grads, z = loss_and_grad(w, x64, y64)
        p = expit(z)
        dz = p - y64  # d(per-sample loss)/d(logit) of the logits loss
        curves["loss"].append(loss)
        curves["correct"].append(count_correct(z, y64, 0.0))
        curves["nonfinite"].append(not math.isfinite(loss) or weights_nonfinite(w))
        curves["saturated_output"].append(float(np.mean((p == 0.0) | (p == 1.0))))
        curves["saturated_logit"].append(float(np.mean(np.abs(z) > SATURATION_LOGIT)))
        curves["dead_gradient"].append(float(np.mean(dz == 0.0)))
        curves["nonfinite_gradient"].append(float(np.mean(~np.isfinite(dz))))
        curves["dead_misclassified"].append(float(np.mean((dz == 0.0) & ((z > 0) != (y64 > 0.5)))))
        if spec.keep_trajectory:
            traj.append({name: v.copy() for name, v in w.items()})
        if k == spec.steps:
            break
        curves["grad_norm"].append(math.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
        if spec.keep_trajectory:
            grad_list.append(grads)
        w = {name: w[name] - spec.lr * grads[name] for name in PARAM_NAMES}
    curves["accuracy"] = [c / n for c in curves["correct"]]
    # The artifact keeps float32 final weights like every other arm (so hashes
    # compare like with like); the float64 trajectory feeds the diagnostics.
    return ArmResult(curves=curves, final_weights={k: v.astype(np.float32) for k, v in w.items()},
                     info={"grad_norm_source": "analytic", "train_seconds": time.perf_counter() - t0},
                     trajectory=traj or None, grads=grad_list or None)


def train_many(inits: list[Weights], x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> list[ArmResult]:
    return [train(w, x, y, spec) for w in inits]


def grad_at(w: Weights, x64: np.ndarray, y64: np.ndarray) -> Weights:
    """The ground-truth gradient at any weights (float64), for the agreement diagnostics."""
    return loss_and_grad({k: np.asarray(v, np.float64) for k, v in w.items()}, x64, y64)[1]


def evaluate_correct(weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
    """Float64 forward pass for the weight swap: z > 0 (sigmoid(z) > 0.5 exactly)."""
    from ..model import forward_logits

    return count_correct(forward_logits(weights, x, np.float64), y, 0.0)


ARMS = [
    ArmSpec("reference-f64", "NumPy float64, BCE from logits: the ground truth", "main", "logits_f64",
            train_many, (), ground_truth=True),
]
