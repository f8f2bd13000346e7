"""Each arm's effective settings side by side, before any training, and the rows where they differ: every
arm read by its kind (``Kind.conventions``: JAX and f64 arms from their code, ``arms.jax_conventions``; Keras
arms in a worker per backend; torch arms from the built module), plus the workload's declarations
(``declared: <key>``). ``analysis.conventions_table`` reads the record back."""

from __future__ import annotations

from typing import Any

from paritybench.analysis.conventions_table import differing
from paritybench.arms.registry import kind_of
from paritybench.arms.requirements import install_hint, missing_requirements
from paritybench.workloads.base import Arm, Workload


def skip_reason(arm: Arm) -> str | None:
    """Why ``arm``'s settings cannot be read here (a module it needs is not installed: the reason ``run`` gives
    when it skips the arm), or None. An arm that needs a GPU is still read on a CPU: its settings are in its code."""
    missing = [m for m in missing_requirements(arm) if m != "gpu"]
    return f"{', '.join(missing)} not installed: {install_hint(missing)}" if missing else None


def collect(
    workload: Workload,
    arms: tuple[Arm, ...],
    lr: float,
    numerics,
    keras_rows: dict[str, dict] | None = None,
    skipped: dict[str, str] | None = None,
) -> dict[str, dict[str, Any]]:
    """arm name -> {row: value}, Keras arms read in one worker per backend (or taken from ``keras_rows``:
    what ``run``'s own Keras workers read from the models they trained). An arm whose framework is missing is
    left out, its reason in ``skipped`` (arm name -> reason) where given."""
    table: dict[str, dict[str, Any]] = {}
    for arm in arms:
        why = skip_reason(arm)
        if why is not None:
            if skipped is not None:
                skipped[arm.name] = why
            continue
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
    """The ``conventions`` record: every arm's rows, the differing ones and the arms skipped with the reason."""
    skipped: dict[str, str] = {}
    table = collect(workload, tuple(arms), lr, numerics, skipped=skipped)
    return {"arms": table, "differing": differing(table), "skipped": skipped}
