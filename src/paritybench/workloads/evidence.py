"""Measured sensitivity evidence for the catalogue workloads, kept apart from their declarations.

Each entry: arm -> (expected class, evidence). Measured with ``paritybench sensitivity --workload W --k 8
--arms <every main-process arm that needs no GPU>`` (seed 0, window 0, one-ulp copies, rel 1e-7) on the
2-core CPU machine (jax 0.12.0.1), catalogue2 session; Keras arms were not run under sensitivity and keep
the default unless their emulation's spread is cited as such. ``apply`` sets them on a workload's arms.
"""

from __future__ import annotations

from dataclasses import replace

_K8 = "(sensitivity --k 8, 2-core CPU)"


def _same(acc: float) -> tuple[str, str]:
    return "stable", f"{acc:.3f} on all 8 one-ulp copies {_K8}"


MEASURED: dict[str, dict[str, tuple[str, str]]] = {
    "softmax-ce": {
        "jax-naive": _same(0.097), "jax-logits": _same(0.169), "reference-f64": _same(0.169),
        "jax-keras-clip": ("chaotic", f"0.390-0.455 over 8 one-ulp copies, 8 distinct {_K8}"),
        "jax-keras-torch-clip": ("chaotic", f"0.401-0.443 over 8 one-ulp copies, 8 distinct {_K8}"),
        "keras-jax": ("chaotic", "not run under sensitivity: its emulation jax-keras-clip spans 0.390-0.455 over "
                                 f"8 one-ulp copies {_K8}"),
        "keras-torch": ("chaotic", "not run under sensitivity: its emulation jax-keras-torch-clip spans "
                                   f"0.401-0.443 over 8 one-ulp copies {_K8}"),
    },
    "adam-epsilon": {
        "jax-adam-literal": _same(0.644), "jax-keras-adam": _same(0.642), "jax-adam-eps-scaled": _same(0.642),
        "jax-keras-adam-clip": _same(0.642), "jax-keras-adam-torch-clip": _same(0.642),
        "reference-f64": _same(0.642),
    },
    "l2-weight-decay": {
        "jax-sgd-decay-literal": _same(0.131), "jax-sgd-l2": _same(0.131), "jax-sgd-l2-clip": _same(0.131),
        "jax-sgd-l2-torch-clip": _same(0.131), "jax-adam-l2": _same(0.634), "jax-adamw": _same(0.642),
        "reference-f64": _same(0.131),
    },
    "label-shape": {
        "jax-broadcast": _same(0.528), "jax-reshape": _same(0.773), "jax-keras-clip": _same(0.773),
        "jax-keras-torch-clip": _same(0.773), "reference-f64": _same(0.773),
    },
    "same-padding": {
        "jax-torch-pad": _same(0.780), "jax-same": _same(0.784), "jax-same-keras-clip": _same(0.784),
        "jax-same-keras-torch-clip": _same(0.784), "reference-f64": _same(0.784),
    },
    "tf32-matmul": {
        "jax-highest": _same(0.772), "jax-highest-keras-clip": _same(0.772),
        "jax-highest-keras-torch-clip": _same(0.772), "reference-f64": _same(0.772),
    },
    "gpu-nondeterminism": {
        "jax-onehot": _same(0.538), "jax-onehot-keras-clip": _same(0.538),
        "jax-onehot-keras-torch-clip": _same(0.538), "reference-f64": _same(0.538),
    },
}


def apply(workload: str, arms: tuple) -> tuple:
    """``arms`` with the measured class and evidence set where ``MEASURED`` has them (the reference's
    own evidence, if it has one, is kept beside the measurement)."""
    table = MEASURED.get(workload, {})
    out = []
    for a in arms:
        if a.name in table:
            cls, ev = table[a.name]
            ev = f"{ev}; {a.evidence}" if a.evidence else ev
            a = replace(a, expected=cls, evidence=ev)
        out.append(a)
    return tuple(out)
