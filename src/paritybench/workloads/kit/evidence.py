"""How a workload's measured evidence is written: the phrases its ``evidence.MEASURED`` table is made of.

A workload's table (``<workload>/evidence.py``) maps arm -> (expected class, evidence), measured with
``paritybench sensitivity --workload W --k 8 --arms ...`` (seed 0, window 0, one-ulp copies, rel 1e-7) on
the 2-core CPU machine, the Keras arms by their worker processes (every copy on its own weights), unless
the table's docstring says otherwise; ``arms.with_evidence`` sets them on the arms.
"""

from __future__ import annotations

K8 = "(sensitivity --k 8, 2-core CPU)"
K8_TORCH = "(sensitivity --k 8, 2-core CPU, torch 2.15)"
F64 = "float64 throughout: float32 rounding never reaches it"


def same(acc: float, *notes: str, k8: str = K8) -> tuple[str, str]:
    """Stable: the same final accuracy on all 8 one-ulp copies; ``notes`` follow after '; '."""
    return "stable", "; ".join((f"{acc:.3f} on all 8 one-ulp copies {k8}", *notes))


def spread(lo: float, hi: float, *notes: str) -> tuple[str, str]:
    """Chaotic: 8 distinct final weights whose accuracies span ``lo``-``hi``."""
    return "chaotic", "; ".join((f"{lo:.3f}-{hi:.3f} over 8 one-ulp copies, 8 distinct {K8}", *notes))


def each(arms: tuple[str, ...], measured: tuple[str, str]) -> dict[str, tuple[str, str]]:
    """The same measurement for each of ``arms`` (the Keras arms that ended alike on every copy)."""
    return {a: measured for a in arms}
