"""What every arm takes and returns.

An arm trains the workload's model from given initial weights on one data window
and returns per-step curves and its final weights. The runner reaches every arm
through its kind (``paritybench.arms.registry.kind_of``) and never branches on
arm names. This module imports no framework (the Keras workers use it).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paritybench.experiment import heads
from paritybench.experiment.weights import Weights
from paritybench.workloads.base import Arm, Workload


@dataclass(frozen=True)
class TrainSpec:
    """What a training run needs besides weights and data.

    ``keep_trajectory``: also return the weights after every step and the
    gradient of every step (for the gradient-agreement diagnostics; memory
    grows with steps, so sweeps leave it off).
    """

    steps: int
    lr: float
    keep_trajectory: bool = False
    # None: full batch; an int: step k trains on batch k mod (n / batch_size) (paritybench.arms.minibatch)
    batch_size: int | None = None


@dataclass
class ArmResult:
    """One arm's outcome on one (seed, window).

    ``curves`` lists are indexed by step: ``loss``, ``accuracy``, ``correct`` and
    ``nonfinite`` have steps+1 entries (index k = the weights after k updates);
    ``grad_norm`` has ``steps`` entries (the gradient applied by update k+1).
    Diagnostic curves (``paritybench.experiment.heads.PER_STEP``) have steps+1 entries.
    ``trajectory`` (w_0..w_steps) and ``grads`` (g_0..g_{steps-1}) are set when
    the spec asked to keep them; ``grads`` is None where the framework does not
    expose its gradient (then it is derived from the trajectory, for plain SGD).
    """

    curves: dict[str, list]
    final_weights: Weights
    info: dict[str, Any] = field(default_factory=dict)
    trajectory: list[Weights] | None = None
    grads: list[Weights] | None = None
    # a stateful model's non-trainable variables (moving statistics) after every step: name -> steps+1 vectors
    state: dict[str, list] | None = None


def cast_data(a: Any, dtype: Any) -> np.ndarray:
    """Samples or targets for a program in float ``dtype``: floats cast to it, integers (class ids for a sparse
    loss, token ids for an embedding) kept integers, int64 beside float64 and int32 beside float32 (JAX's
    integer without x64), since a sparse loss or an embedding indexes with them."""
    a = np.asarray(a)
    if heads.integer(a.dtype):
        return a.astype(np.int64 if np.dtype(dtype) == np.float64 else np.int32)
    return a.astype(dtype)


def weights_nonfinite(weights: Weights) -> bool:
    return not all(bool(np.all(np.isfinite(v))) for v in weights.values())


def nonfinite_steps(weights_finite: list[bool], loss: list[float]) -> list[bool]:
    """The ``nonfinite`` curve: a step is flagged when its weights or its loss are not finite."""
    return [(not f) or not np.isfinite(lv) for f, lv in zip(weights_finite, loss, strict=True)]


def column(host: dict, last: dict, name: str, b: int) -> list:
    """Copy ``b``'s per-step records of ``name`` (steps of them) and its final one, as Python numbers."""
    return [v.item() for v in host[name][b]] + [last[name][b].item()]


def step_curves(host: dict, last: dict, b: int, scored: int) -> dict[str, list]:
    """The curves every arm records, for copy ``b`` of a vmapped program's per-step and final records;
    ``scored``: what ``correct`` counts out of (``heads.scored``: the samples, labels or positions)."""
    loss, correct = column(host, last, "loss", b), [int(c) for c in column(host, last, "correct", b)]
    return {
        "loss": loss,
        "correct": correct,
        "accuracy": [c / scored for c in correct],
        "grad_norm": [float(v) for v in host["grad_norm"][b]],
        "nonfinite": nonfinite_steps(column(host, last, "finite", b), loss),
        **{k: [float(v) for v in column(host, last, k, b)] for k in heads.PER_STEP},
    }


# The in-process JAX trainers' compiled programs (jax_trainer's full-batch one, minibatch's), one executable per
# program_key, compiled once per process.
_EXECUTABLES: dict[tuple, Any] = {}


def program_key(workload: Workload, arm: Arm, spec: TrainSpec, copies: int, x_shape: tuple, *more: Any) -> tuple:
    """What makes two calls one compiled program: the workload (its version and this very object), the arm, the
    steps, whether the trajectory is kept, the number of copies, the window's shape, the trainer's own ``more``,
    and the learning rate where an optax optimizer bakes it into the program (plain SGD takes it as an
    argument)."""
    lr = spec.lr if arm.optimizer is not None else None
    return (
        workload.name,
        workload.version,
        id(workload),
        arm.name,
        spec.steps,
        spec.keep_trajectory,
        copies,
        x_shape,
        *more,
        lr,
    )


def run_compiled(key: tuple, build: Callable[[], Any], args: tuple) -> tuple[Any, float, float]:
    """Run the program of ``key`` on ``args`` (``build()`` gives its jitted function the first time; it is lowered
    and compiled ahead of the run, so that compile time is measured apart): (outputs on the host's side of
    ``block_until_ready``, compile seconds, run seconds)."""
    import jax  # late: a framework: loads after the numerics flags

    compile_seconds = 0.0
    if key not in _EXECUTABLES:
        t = time.perf_counter()
        _EXECUTABLES[key] = build().lower(*args).compile()
        compile_seconds = time.perf_counter() - t
    t = time.perf_counter()
    out = jax.block_until_ready(_EXECUTABLES[key](*args))
    return out, compile_seconds, time.perf_counter() - t


def trajectories(recs: dict, final: dict, names: Iterable[str], copies: int, steps: int) -> list[tuple[list, list]]:
    """Each copy's trajectory (w_0..w_steps) and gradients (g_0..g_{steps-1}) from a vmapped program's per-step
    records (``recs["params"]``, ``recs["grads"]``: one device-to-host copy each, not one per (copy, step)) and
    its final weights (on the host)."""
    ps = {k: np.asarray(v) for k, v in recs["params"].items()}
    gs = {k: np.asarray(v) for k, v in recs["grads"].items()}
    return [
        (
            [{k: ps[k][b, s] for k in names} for s in range(steps)] + [{k: final[k][b] for k in names}],
            [{k: gs[k][b, s] for k in names} for s in range(steps)],
        )
        for b in range(copies)
    ]


def grad_norm_from_update(before: Weights, after: Weights, lr: float) -> float:
    """||w_{k+1} - w_k|| / lr: the norm of the gradient plain SGD applied.

    Used where the framework does not hand us its gradient (Keras ``fit``);
    exact up to the float32 rounding of the update itself. The difference of
    two nearby float32 values is exact (Sterbenz), so it is taken in float32;
    only the sum of squares needs float64.
    """
    total = 0.0
    for k in before:
        d = (np.asarray(after[k], np.float32) - np.asarray(before[k], np.float32)).ravel().astype(np.float64)
        total += float(d @ d)
    return math.sqrt(total) / lr if math.isfinite(total) else float("nan")


@dataclass
class Evaluation:
    """One arm's tensors at one step's weights (and model state).

    ``layers``: forward phase, each named layer's output in forward order (``Model.jax_layers`` or
    ``Model.torch_layers`` in the order the function builds its dict, or the Keras layers ``Model.keras_layers``
    names in the Keras model's layer order): ``localize`` compares them in this order; ``state``: update phase,
    after the step: the optimizer's moments (``adam/mu/<param>``, ``adam/nu/<param>``) and the model's own
    state (BatchNormalization's moving statistics, by their declared names); ``evaluation``: evaluation phase,
    the inference-mode forward pass on the held-out window (``Data.holdout``) with the step's new model state;
    ``new_state``: the model state after the step (what the next step starts from on a free run)."""

    logits: np.ndarray
    loss: float
    dz: np.ndarray
    grads: dict[str, np.ndarray]
    update: dict[str, np.ndarray] | None
    layers: dict[str, np.ndarray] = field(default_factory=dict)
    state: dict[str, np.ndarray] = field(default_factory=dict)
    evaluation: dict[str, np.ndarray] = field(default_factory=dict)
    new_state: dict[str, np.ndarray] = field(default_factory=dict)
