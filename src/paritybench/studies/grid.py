"""A sweep's grid of runs: merged in the order an uninterrupted sweep lists them, its summary, and the
perturbed copies of one initial weight set that a sensitivity study trains."""

from __future__ import annotations

import numpy as np

from paritybench import workloads
from paritybench.analysis import stats
from paritybench.artifact.records import RunKey
from paritybench.experiment import data, heads
from paritybench.pipeline import runner


def merge_runs(cfg, done: list[dict], new: list[dict]) -> list[dict]:
    """All runs in the order an uninterrupted sweep lists them (case by case, arm by arm)."""
    by_key = {RunKey.of(r): r for r in done}
    by_key.update({RunKey.of(r): r for r in new})
    specs = workloads.load(cfg.workload).resolve_arms(cfg.arms)
    return [by_key[c.key(s.name)] for c in runner.default_cases(cfg) for s in specs if c.key(s.name) in by_key]


def loss_metric(workload) -> bool:
    """Whether a sweep or sensitivity study of ``workload`` summarises the final loss (a head without classes,
    ``heads.metric``) instead of final accuracy."""
    return heads.metric(workload.model.head) == "loss"


def summary_extra(runs: list[dict], majority: dict[int, float], reference: str) -> dict:
    """A sweep's ``summary`` over ``runs``: final accuracy (``stats.sweep_summary``) for a classifier; for a head
    without classes (runs with ``metric`` "loss") the final loss (``stats.sweep_loss_summary``) and ``criterion``,
    which says so in words."""
    if any(r.get("metric") == "loss" for r in runs):
        return {
            "summary": stats.sweep_loss_summary(runs, reference),
            "criterion": {"metric": "loss", "text": stats.SWEEP_LOSS_CRITERION},
        }
    return {"summary": stats.sweep_summary(runs, majority, reference)}


def sweep_extra(cfg, runs: list[dict], resumed: bool) -> dict:
    workload = workloads.load(cfg.workload)
    if loss_metric(workload):  # no classes, no majority rate: nothing about the windows to record
        return {**summary_extra(runs, {}, workload.reference), "resumed": resumed}
    ds = workloads.load_data(workload, cfg.data_path, cfg.data_sha256)
    labels = workload.data.labels
    windows = {w: data.window(ds, w, cfg.n, cfg.normalize, labels)[1] for w in cfg.windows}
    majority = stats.majority_rates(windows, workload.model.head)
    return {
        **summary_extra(runs, majority, workload.reference),
        "windows_info": {str(w): {"majority_rate": m} for w, m in majority.items()},
        "resumed": resumed,
    }


def perturb(weights: dict, rel: float, seed: int, copy: int) -> dict:
    """``w * (1 + rel * s)`` with random signs s, computed in float64 and rounded to float32.

    A relative change of 1e-7 is at least half a float32 ulp (ulps are 6e-8 to
    1.2e-7 relative), so nearly every parameter moves to a neighbouring float.
    """
    rng = np.random.default_rng([seed, copy, 0x5EED])
    return {
        k: (np.asarray(v, np.float64) * (1.0 + rel * rng.choice([-1.0, 1.0], size=np.shape(v)))).astype(np.float32)
        for k, v in weights.items()
    }
