"""Summaries over many runs: sweeps (seeds x windows) and sensitivity copies."""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from paritybench.analysis.diagnostics import max_abs_diff
from paritybench.analysis.tolerances import STABLE_TOLERANCE
from paritybench.artifact import num, unnum
from paritybench.artifact.records import CaseKey, RunKey

# "Near chance": within this much of the majority-class rate, i.e. no better
# than predicting the commoner label for everything (the NaN network's 0.51).
NEAR_CHANCE_MARGIN = 0.05


def _describe(values: list[float]) -> dict[str, Any]:
    a = np.asarray(values, np.float64)
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {
        "count": int(a.size),
        "mean": float(a.mean()),
        "std": float(a.std(ddof=1)) if a.size > 1 else 0.0,
        "min": float(a.min()),
        "q1": float(q1),
        "median": float(med),
        "q3": float(q3),
        "max": float(a.max()),
    }


def majority_rates(y_by_window: dict[int, np.ndarray], head: str | None = None) -> dict[int, float]:
    """Share of the commoner label in each window: the accuracy of a constant prediction, counted as the run's
    accuracy counts (``experiment.heads``): integer class ids, (n,) or (n, T), the commonest class's share of the
    positions; one-hot rows per position (n, T, k), likewise; several 0/1 labels per sample for a sigmoid head
    (``head``), the mean over the labels of each label's commoner value's share (a constant guess per label)."""
    out = {}
    for w, y in y_by_window.items():
        y = np.asarray(y)
        if np.issubdtype(y.dtype, np.integer) and head != "sigmoid":  # class ids (a softmax head's, squeezed)
            out[w] = float(np.bincount(y.ravel()).max() / y.size)
            continue
        if head == "sigmoid" and y.shape[-1] > 1:  # multi-label: each label's own majority, averaged over labels
            shares = np.mean(y.reshape(-1, y.shape[-1]) > 0.5, axis=0)
            out[w] = float(np.mean(np.maximum(shares, 1.0 - shares)))
            continue
        if y.ndim > 2 and y.shape[-1] > 1:  # one-hot per sequence position: the commonest class's share
            out[w] = float(np.max(np.mean(y.reshape(-1, y.shape[-1]), axis=0)))
            continue
        if y.ndim == 2 and y.shape[1] > 1:  # one-hot: the commonest class's share
            out[w] = float(np.max(np.mean(y, axis=0)))
            continue
        pos = float(np.mean(y > 0.5))
        out[w] = max(pos, 1.0 - pos)
    return out


def sweep_summary(runs: list[dict[str, Any]], majority: dict[int, float], reference_arm: str) -> dict[str, Any]:
    """Per arm: final-accuracy distribution, paired differences against the reference on the
    same (seed, window), and how often the arm ends near chance."""
    finals: dict[str, dict[CaseKey, float]] = defaultdict(dict)
    for r in runs:
        if r["status"] == "ok":
            finals[r["arm"]][CaseKey.of(r)] = r["final_accuracy"]
    ref = finals.get(reference_arm, {})
    out = {}
    for arm, by_case in finals.items():
        accs = list(by_case.values())
        s = {"final_accuracy": _describe(accs)}
        near = [acc <= majority[w] + NEAR_CHANCE_MARGIN for (_, w), acc in by_case.items()]
        s["near_chance"] = {"count": int(sum(near)), "fraction": float(np.mean(near)), "margin": NEAR_CHANCE_MARGIN}
        paired = [acc - ref[c] for c, acc in by_case.items() if c in ref]
        if paired and arm != reference_arm:
            s["paired_diff_vs_reference"] = _describe(paired)
        out[arm] = s
    return _in_arm_order(out)


def _in_arm_order(d: dict[str, Any]) -> dict[str, Any]:
    """Arms in the order their runs came (the workload's declaration order)."""
    return dict(d)


def _copies_by_arm(runs: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each arm's ok runs, in copy order (a sensitivity run is always a perturbed copy)."""
    by_arm: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in runs:
        if r["status"] == "ok":
            by_arm[r["arm"]].append(r)
    return {arm: sorted(rs, key=lambda r: r["copy"]) for arm, rs in by_arm.items()}


def _copies_record(
    rs: list[dict[str, Any]], finals: dict[Any, Any], measured: dict[str, Any], cls: str
) -> dict[str, Any]:
    """One arm's record over its perturbed copies ``rs``: their count, ``measured`` (the metric's own fields),
    what their final weights say, and the class the metric gave."""
    keys = [RunKey.of(r) for r in rs]
    spread = [max_abs_diff(finals[k], finals[keys[0]]) for k in keys[1:] if k in finals and keys[0] in finals]
    return {
        "copies": len(rs),
        **measured,
        "distinct_final_hashes": len({r["final_weights_sha256"] for r in rs}),
        # NaN when the copies' weights are NaN (jax-naive): JSON carries it as "nan"
        "max_weight_diff_vs_copy0": num(max(spread, key=lambda v: (not np.isnan(v), v))) if spread else 0.0,
        "any_nonfinite": any(r["any_nonfinite"] for r in rs),
        "class": cls,
    }


def sensitivity_summary(runs: list[dict[str, Any]], finals: dict[Any, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Per arm: spread of final accuracy and weights over the perturbed copies, and its class.

    ``stable``: every copy ends within one sample of every other (max - min of
    the correct count <= 1); otherwise ``chaotic``.
    """
    summary, classes = {}, {}
    for arm, rs in _copies_by_arm(runs).items():
        correct = [r["curves"]["correct"][-1] for r in rs]
        cls = "stable" if max(correct) - min(correct) <= 1 else "chaotic"
        measured = {
            # each run's own accuracy (correct / its scored labels or positions; correct / n for one per sample)
            "final_accuracy": _describe([r["final_accuracy"] for r in rs]),
            "correct_range": int(max(correct) - min(correct)),
        }
        summary[arm], classes[arm] = _copies_record(rs, finals, measured, cls), cls
    return _in_arm_order(summary), _in_arm_order(classes)


# ------------------------------------------------------------------ a head without classes: the loss is the metric

SWEEP_LOSS_CRITERION = (
    "final loss: each run's loss at its final weights (the workload's loss, the mean over its window), per arm "
    "over every seed and window; paired differences are an arm's final loss minus the reference arm's on the same "
    "seed and window; compare tests two sweeps' final-loss distributions per chaotic arm by Mann-Whitney U, as it "
    "tests final accuracy for a classifier; no near-chance count (a regression has no chance level)"
)


def sensitivity_loss_criterion(rtol: float = STABLE_TOLERANCE.loss_rtol) -> str:
    return (
        "final loss: stable when the copies' final losses spread by at most "
        f"{rtol:g} relative ((max - min) / |median|, the bound compare holds a stable arm's loss to: "
        "tolerances.STABLE_TOLERANCE.loss_rtol), chaotic otherwise or when a copy's loss is not finite"
    )


def _describe_num(values: list[float]) -> dict[str, Any]:
    """``_describe`` of values that may be NaN or infinite (a diverged loss), each carried as ``num`` writes it."""
    return {k: v if k == "count" else num(v) for k, v in _describe(values).items()}


def sweep_loss_summary(runs: list[dict[str, Any]], reference_arm: str) -> dict[str, Any]:
    """``sweep_summary`` for a head without classes (``SWEEP_LOSS_CRITERION``): per arm, the final-loss
    distribution and the paired differences against the reference on the same (seed, window)."""
    finals: dict[str, dict[CaseKey, float]] = defaultdict(dict)
    for r in runs:
        if r["status"] == "ok":
            finals[r["arm"]][CaseKey.of(r)] = unnum(r["final_loss"])
    ref = finals.get(reference_arm, {})
    out = {}
    for arm, by_case in finals.items():
        s = {"final_loss": _describe_num(list(by_case.values()))}
        paired = [loss - ref[c] for c, loss in by_case.items() if c in ref]
        if paired and arm != reference_arm:
            s["paired_diff_vs_reference"] = _describe_num(paired)
        out[arm] = s
    return _in_arm_order(out)


def loss_spread(losses: list[float]) -> float:
    """(max - min) / |median| of final losses: inf when one is not finite (or the median is 0 and they differ)."""
    a = np.asarray(losses, np.float64)
    if not np.isfinite(a).all():
        return math.inf
    width = float(a.max() - a.min())
    if width == 0.0:
        return 0.0
    median = abs(float(np.median(a)))
    return width / median if median else math.inf


def sensitivity_loss_summary(
    runs: list[dict[str, Any]], finals: dict[Any, Any], rtol: float = STABLE_TOLERANCE.loss_rtol
) -> tuple[dict[str, Any], dict[str, str]]:
    """``sensitivity_summary`` for a head without classes (``sensitivity_loss_criterion``): per arm the final
    losses over the perturbed copies, their relative spread and the class it gives."""
    summary, classes = {}, {}
    for arm, rs in _copies_by_arm(runs).items():
        losses = [unnum(r["final_loss"]) for r in rs]
        rel = loss_spread(losses)
        cls = "stable" if rel <= rtol else "chaotic"
        measured = {"final_loss": _describe_num(losses), "loss_spread": num(rel)}
        summary[arm], classes[arm] = _copies_record(rs, finals, measured, cls), cls
    return _in_arm_order(summary), _in_arm_order(classes)
