"""Arms against arms within one sweep: the Mann-Whitney test compare applies between artifacts.

``compare.distribution_test`` asks whether one arm's final accuracies moved between two artifacts.
A workload without shared weights (``init-defaults``: each arm draws its own initial weights) asks
whether arms differ from one another within one sweep; this applies the same test (two-sided
Mann-Whitney U on final accuracy, ``tolerances.ALPHA``, ``tolerances.can_reject`` for too few runs)
to every arm against a chosen arm, and to every pair.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from paritybench.analysis.tolerances import ALPHA, can_reject
from paritybench.artifact import unnum


def finals_by_arm(artifact: dict, metric: str = "final_accuracy") -> dict[str, list[float]]:
    """``metric`` of every ok run, per arm, in the artifact's order: a run field (``final_accuracy``,
    ``final_loss``) or ``<curve>@<step>`` (``loss@0``: the loss at the initial weights)."""
    out: dict[str, list[float]] = {}
    for r in artifact["runs"]:
        if r["status"] == "ok":
            if "@" in metric:
                curve, step = metric.split("@")
                v = r["curves"][curve][int(step)]
            else:
                v = r[metric]
            out.setdefault(r["arm"], []).append(float(unnum(v)))
    return out


def mann_whitney(xa: list[float], xb: list[float]) -> dict:
    """compare's verdict on two samples: divergent (p < ALPHA), equivalent, or inconclusive (too few)."""
    from scipy.stats import mannwhitneyu  # late: scipy (a slow import): loaded only where this statistic is computed

    out: dict = {
        "n_a": len(xa),
        "n_b": len(xb),
        "median_a": float(np.median(xa)) if xa else None,
        "median_b": float(np.median(xb)) if xb else None,
        "p_value": None,
        "alpha": ALPHA,
    }
    if not can_reject(len(xa), len(xb)):
        out["verdict"] = "inconclusive"
        return out
    p = 1.0 if len(set(xa) | set(xb)) == 1 else float(mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
    out.update(p_value=p, verdict="divergent" if p < ALPHA else "equivalent")
    return out


def pairwise(artifact: dict, metric: str = "final_accuracy") -> list[dict]:
    """Every pair of arms, each with its Mann-Whitney verdict on ``metric``."""
    finals = finals_by_arm(artifact, metric)
    return [{"a": a, "b": b, **mann_whitney(finals[a], finals[b])} for a, b in combinations(finals, 2)]


def against(artifact: dict, arm: str, metric: str = "final_accuracy") -> list[dict]:
    """Every other arm against ``arm`` on ``metric``."""
    finals = finals_by_arm(artifact, metric)
    return [{"a": arm, "b": b, **mann_whitney(finals[arm], finals[b])} for b in finals if b != arm]
