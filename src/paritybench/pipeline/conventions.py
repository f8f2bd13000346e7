"""Each arm's effective settings side by side, before any training, and the rows where they differ: every
arm read by its kind (``Kind.conventions``: JAX and f64 arms from their code, ``arms.jax_conventions``; Keras
arms in a worker per backend; torch arms from the built module), plus the workload's declarations
(``declared: <key>``). ``analysis.conventions_table`` reads the record back."""

from __future__ import annotations

from typing import Any

from paritybench.analysis.conventions_table import differing
from paritybench.arms.registry import kind_of
from paritybench.workloads.base import Arm, Workload


def collect(
    workload: Workload, arms: tuple[Arm, ...], lr: float, numerics, keras_rows: dict[str, dict] | None = None
) -> dict[str, dict[str, Any]]:
    """arm name -> {row: value}, Keras arms read in one worker per backend (or taken from ``keras_rows``:
    what ``run``'s own Keras workers read from the models they trained)."""
    table: dict[str, dict[str, Any]] = {}
    for arm in arms:
        rows = kind_of(arm).conventions(workload, arm, lr, numerics, keras_rows)
        if rows is None:
            continue  # nothing was built to read (skipped: its framework is missing, or it failed in the run)
        for k, v in arm.conventions.items():
            rows[f"declared: {k}"] = v
        table[arm.name] = {k: _plain(v) for k, v in rows.items()}
    return table


def _plain(v):
    if isinstance(v, float):  # a float32 hyperparameter (0.899999976) reads as the value it was given
        return float(f"{v:.6g}")
    if isinstance(v, dict):
        return ", ".join(f"{k}={x}" for k, x in v.items())
    return v


def report(workload: Workload, arms, lr: float, numerics) -> dict[str, Any]:
    """The artifact's ``conventions`` record: every arm's rows and the differing ones."""
    table = collect(workload, tuple(arms), lr, numerics)
    return {"arms": table, "differing": differing(table)}
