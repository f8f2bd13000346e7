"""Measured sensitivity evidence for the catalogue workloads, kept apart from their declarations.

Each entry: arm -> (expected class, evidence). Measured with ``paritybench sensitivity --workload W --k 8
--arms <every main-process arm that needs no GPU>`` (seed 0, window 0, one-ulp copies, rel 1e-7) on the
2-core CPU machine (jax 0.12.0.1), catalogue2 session. The Keras arms (each workload's ``keras-*`` arms, with
``reference-f64`` as a check that the copies match the JAX run's) were measured the same way, ``--arms
<keras arms>,reference-f64``, by their worker processes (keras 3.15.1, tensorflow 2.21.0, torch 2.15.0,
plot session); every copy of every Keras arm ended on its own final weights (8 distinct hashes), so the
perturbation reached the workers. tf32-matmul and gpu-nondeterminism: on a CPU, i.e. without TF32 or
atomics. ``apply`` sets the classes on a workload's arms.
"""

from __future__ import annotations

from dataclasses import replace

_K8 = "(sensitivity --k 8, 2-core CPU)"


def _same(acc: float) -> tuple[str, str]:
    return "stable", f"{acc:.3f} on all 8 one-ulp copies {_K8}"


def _keras_same(acc: float, *arms: str) -> dict[str, tuple[str, str]]:
    """Keras arms that ended at the same accuracy on all 8 copies (each copy on its own weights)."""
    return {a: _same(acc) for a in arms}


_KERAS = ("keras-tensorflow", "keras-jax", "keras-torch")


MEASURED: dict[str, dict[str, tuple[str, str]]] = {
    "softmax-ce": {
        "jax-naive": _same(0.097),
        "jax-logits": _same(0.169),
        "reference-f64": _same(0.169),
        "jax-keras-clip": ("chaotic", f"0.390-0.455 over 8 one-ulp copies, 8 distinct {_K8}"),
        "jax-keras-torch-clip": ("chaotic", f"0.401-0.443 over 8 one-ulp copies, 8 distinct {_K8}"),
        "keras-tensorflow": _same(0.169),
        "keras-jax": (
            "chaotic",
            f"0.333-0.454 over 8 one-ulp copies, 8 distinct {_K8}; its emulation jax-keras-clip spans 0.390-0.455",
        ),
        "keras-torch": (
            "chaotic",
            f"0.340-0.437 over 8 one-ulp copies, 8 distinct {_K8}; its emulation "
            "jax-keras-torch-clip spans 0.401-0.443",
        ),
    },
    "adam-epsilon": {
        "jax-adam-literal": _same(0.644),
        "jax-keras-adam": _same(0.642),
        "jax-adam-eps-scaled": _same(0.642),
        "jax-keras-adam-clip": _same(0.642),
        "jax-keras-adam-torch-clip": _same(0.642),
        "reference-f64": _same(0.642),
        **_keras_same(0.642, *_KERAS),
    },
    "l2-weight-decay": {
        "jax-sgd-decay-literal": _same(0.131),
        "jax-sgd-l2": _same(0.131),
        "jax-sgd-l2-clip": _same(0.131),
        "jax-sgd-l2-torch-clip": _same(0.131),
        "jax-adam-l2": _same(0.634),
        "jax-adamw": _same(0.642),
        "reference-f64": _same(0.131),
        **_keras_same(0.131, *_KERAS, "keras-tensorflow-l2-half"),
        "keras-tensorflow-adam-l2": _same(0.634),
        "keras-tensorflow-adamw": _same(0.642),
    },
    "label-shape": {
        "jax-broadcast": _same(0.528),
        "jax-reshape": _same(0.773),
        "jax-keras-clip": _same(0.773),
        "jax-keras-torch-clip": _same(0.773),
        "reference-f64": _same(0.773),
        **_keras_same(0.773, *_KERAS),
    },
    "same-padding": {
        "jax-torch-pad": _same(0.780),
        "jax-same": _same(0.784),
        "jax-same-keras-clip": _same(0.784),
        "jax-same-keras-torch-clip": _same(0.784),
        "reference-f64": _same(0.784),
        **_keras_same(0.784, *_KERAS),
    },
    "tf32-matmul": {
        "jax-highest": _same(0.772),
        "jax-highest-keras-clip": _same(0.772),
        "jax-highest-keras-torch-clip": _same(0.772),
        "reference-f64": _same(0.772),
        **_keras_same(0.772, *_KERAS),
    },
    "batchnorm-momentum": {  # training accuracy (the pitfall shows in evaluation mode, not here)
        "jax-momentum-literal": _same(0.910),
        "jax-torch-bn": _same(0.910),
        "jax-keras-bn": _same(0.910),
        "jax-keras-bn-clip": _same(0.910),
        "jax-keras-bn-torch-clip": _same(0.910),
        "reference-f64": _same(0.910),
        **_keras_same(0.910, *_KERAS),
    },
    "gpu-nondeterminism": {
        "jax-onehot": _same(0.538),
        "jax-onehot-keras-clip": _same(0.538),
        "jax-onehot-keras-torch-clip": _same(0.538),
        "reference-f64": _same(0.538),
        **_keras_same(0.538, *_KERAS),
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
