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
from paritybench.arms.f64 import evaluate_correct as f64_correct
from paritybench.arms.jax_trainer import JaxKind
from paritybench.arms.jax_trainer import evaluate_correct as jax32_correct
from paritybench.arms.keras_kind import KerasKind
from paritybench.arms.kind import Kind
from paritybench.arms.torch_trainer import TorchKind
from paritybench.workloads.base import Arm, Workload

KINDS: dict[str, Kind] = {k.name: k for k in (JaxKind(), F64Kind(), TorchKind(), KerasKind())}


def kind_of(arm: Arm) -> Kind:
    """The kind that trains, evaluates and reads ``arm``."""
    return KINDS[arm.kind]


def main_evaluators(workload: Workload) -> dict[str, Callable[[Workload, dict, np.ndarray, np.ndarray], int]]:
    """The forward passes the harness's own process evaluates every final weight set with (the seed's weight
    swap): label -> ``evaluate_correct(workload, weights, x, y)``: JAX in float32, and the workload's arbiter
    (its reference arm, labelled by its name) in float64."""
    return {"jax": jax32_correct, workload.reference: f64_correct}
