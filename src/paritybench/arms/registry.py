"""Every kind of arm, registered once: ``Arm.kind`` -> its ``Kind`` (``arms.kind``), one module each.

Adding a kind is one module with a ``Kind`` subclass and one line in ``KINDS`` (and its name in
``workloads.base.KINDS``, which the declarations are checked against). This module is not imported by
``paritybench.arms`` itself: the Keras workers start as ``python -m paritybench.arms.keras_worker`` and must
not load the parent's modules with the package.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from paritybench.arms.f64 import F64Kind
from paritybench.arms.jax_trainer import JaxKind
from paritybench.arms.jax_trainer import evaluate_correct as jax32_correct
from paritybench.arms.keras_f64 import KerasF64Kind
from paritybench.arms.keras_kind import KerasKind
from paritybench.arms.kind import Kind
from paritybench.arms.torch_f64 import TorchF64Kind
from paritybench.arms.torch_trainer import TorchKind
from paritybench.workloads.base import Arm, Workload

KINDS: dict[str, Kind] = {
    k.name: k for k in (JaxKind(), F64Kind(), TorchKind(), KerasKind(), TorchF64Kind(), KerasF64Kind())
}


def kind_of(arm: Arm) -> Kind:
    """The kind that trains, evaluates and reads ``arm``."""
    return KINDS[arm.kind]


def main_evaluators(workload: Workload) -> dict[str, Callable[[Workload, dict, np.ndarray, np.ndarray], int]]:
    """The forward passes the harness's own process evaluates every final weight set with (the seed's weight
    swap): label -> ``evaluate_correct(workload, weights, x, y)``: JAX in float32 (where the workload has a JAX
    arm: a workload of the user's torch and Keras models has no JAX forward pass), and the workload's arbiter
    (its reference arm, labelled by its name) in float64."""
    ref = workload.arm(workload.reference)
    out: dict[str, Callable[[Workload, dict, np.ndarray, np.ndarray], int]] = {}
    if any(isinstance(kind_of(a), JaxKind) for a in workload.arms):
        out["jax"] = jax32_correct
    arbiter = kind_of(ref).arbiter(workload, ref)
    out[workload.reference] = lambda _w, weights, x, y: arbiter.correct(weights, x, y)
    return out
