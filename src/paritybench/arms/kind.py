"""What every kind of arm answers: one interface, one subclass per kind module, registered once in
``paritybench.arms.KINDS``.

A kind says how its arms train (``train_many``), how ``localize`` evaluates them at given weights
(``evaluator``, or ``trajectory`` and ``at_weights`` for a kind that runs in a worker), how ``conventions``
reads their effective settings (``conventions``), and what they are numerically (``dtype``, what they set in
the harness's own process, what they cost a shard). The runner, budget, shard, localize and conventions reach
every arm through its kind and never branch on kind names. Adding a kind is one module and one line in the
registry. This module imports no framework.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any, ClassVar, Protocol

import numpy as np

from paritybench.arms.base import ArmResult, Evaluation, TrainSpec
from paritybench.experiment.weights import Weights
from paritybench.workloads.base import Arm, Workload


@dataclass
class Batches:
    """What each step sees: the training rows of step k (the whole window for a full-batch workload; batch
    ``k mod (n / batch_size)`` in window order for a minibatch one, as ``arms.minibatch`` trains) and the
    held-out window for the evaluation phase (None without ``Data.holdout``)."""

    x: np.ndarray
    y: np.ndarray
    slices: list  # of slices, or of index arrays for a shuffled arm (Arm.shuffle_seed)
    xh: np.ndarray | None = None
    yh: np.ndarray | None = None


class Arbiter(Protocol):
    """The float64 arbiter of a run (``Kind.arbiter``): what the runner's diagnostics measure every arm against."""

    def run(self, init: Weights, x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> ArmResult:
        """Its own training from ``init`` (the reference trajectory, with ``spec.keep_trajectory``)."""
        ...

    def grad_at(self, w: Weights, x64: np.ndarray, y64: np.ndarray) -> Weights:
        """Its float64 gradient of the mean loss at any weights, on the whole window ``(x64, y64)``."""
        ...

    def batch_grad(self, w: Weights, xb: np.ndarray, yb: np.ndarray) -> Weights:
        """Its float64 gradient on one minibatch, in training mode (the batch's own statistics)."""
        ...

    def correct(self, weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
        """Its float64 forward pass's correct count at ``weights`` (the weight swap)."""
        ...


@dataclass
class Trajectory:
    """An arm's own (free-running) weights w_0..w_steps, model states s_0..s_steps and evaluation at each."""

    weights: list[dict]
    states: list[dict]
    evals: list[Evaluation]


class Kind:
    """One kind of arm. ``ctx`` below is ``paritybench.pipeline.localize.Context`` (workload, lr, steps, the
    window, the initial weights, numerics, ``batches``)."""

    name: ClassVar[str]
    dtype: ClassVar[type] = np.float32  # what its weights are trained and evaluated in
    # whether its trainer holds every step's parameters and gradients on the device and on the host while it
    # runs (a vmapped JAX program: the memory budget counts them)
    holds_step_arrays: ClassVar[bool] = False

    def train_many(
        self,
        workload: Workload,
        arm: Arm,
        inits: list[Weights],
        x: np.ndarray,
        y: np.ndarray,
        spec: TrainSpec,
        eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> list[ArmResult]:
        """Train ``arm`` from each initial weight set in the harness's own process."""
        raise ValueError(f"arms of kind {self.name!r} are trained in a worker process")

    def evaluator(self, ctx, arm: Arm):
        """An object whose ``at(w, state, k)`` evaluates ``arm`` at step k's weights and model state
        (``Evaluation``), keeping its own optimizer state."""
        raise NotImplementedError(f"arms of kind {self.name!r} have no in-process evaluator")

    def trajectory(self, ctx, arm: Arm) -> Trajectory:
        """The arm's free run from ``ctx.init``, evaluated at every step (localize's arm A)."""
        ev = self.evaluator(ctx, arm)
        dt = self.dtype
        w = {k: np.asarray(v, dt) for k, v in ctx.init.items()}
        s = {k: np.asarray(v, dt) for k, v in ctx.workload.model.initial_state().items()}
        out = Trajectory([w], [s], [])
        for k in range(ctx.steps):
            e = ev.at(w, s, k)
            out.evals.append(e)
            w = {p: (w[p] + e.update[p]).astype(dt) for p in w}
            s = {p: np.asarray(v, dt) for p, v in e.new_state.items()}
            out.weights.append(w)
            out.states.append(s)
        return out

    def at_weights(self, ctx, arm: Arm, traj: Trajectory) -> list[Evaluation]:
        """``arm`` evaluated at each of ``traj``'s weights and model states (teacher forcing), its optimizer
        state its own (fed its own gradients at those weights)."""
        ev = self.evaluator(ctx, arm)
        return [ev.at(traj.weights[k], traj.states[k], k) for k in range(ctx.steps)]

    def update_once(self, arm: Arm, weights: Weights, grads: Weights, lr: float) -> Weights | None:
        """``arm``'s update rule applied once, from its optimizer's initial state, to the given weights and
        gradients (the runner's mechanism check feeds it another arm's step-0 weights and gradient: the rule
        compared given the same gradient). None where the kind cannot apply its rule outside its training."""
        return None

    def conventions(
        self, workload: Workload, arm: Arm, lr: float, numerics, keras_rows: dict[str, dict] | None = None
    ) -> dict[str, Any] | None:
        """The arm's effective settings, row -> value, read from its code (None: nothing was built to read,
        the arm is left out of the table). ``keras_rows``: what ``run``'s own workers read, where given."""
        raise NotImplementedError

    # the kind whose code an arm of this kind runs, as ``paritybench explain``'s switches read and change it (None:
    # this kind's own; a torch float64 arbiter runs a torch arm's code, only its dtype differs)
    code_kind: ClassVar[str | None] = None

    def switch_kind(self) -> str:
        """The kind name the switches (``paritybench.switches``) take an arm of this kind for."""
        return self.code_kind or self.name

    # a float64 arbiter's kind: the kind that runs the same arm in float32 (``localize``'s noise floor, ``ref32``);
    # None for a kind that is not an arbiter
    float32_kind: ClassVar[str | None] = None

    def arbiter(self, workload: Workload, arm: Arm) -> Arbiter:
        """``arm`` as the workload's float64 arbiter, in the harness's own process (a kind whose
        ``float32_kind`` is set)."""
        raise ValueError(f"arms of kind {self.name!r} are not a float64 arbiter")

    # the framework whose settings this kind sets in the harness's own process (``process_numerics``), if any
    process_framework: ClassVar[str | None] = None

    def process_numerics(self, numerics) -> dict:
        """What this kind sets in the harness's own process for ``numerics``, read back (the artifact's
        ``environment.frameworks[process_framework]``)."""
        raise NotImplementedError

    def cost_class(self, arm: Arm) -> str:
        """The group whose measured seconds price this arm when a sweep is split into shards."""
        return self.name

    # it trains in a worker process of its own (the memory budget adds that worker's fixed cost)
    in_worker: ClassVar[bool] = False

    def load_framework(self) -> ModuleType | None:
        """Import the framework this kind's forward pass runs in within the harness's own process and return
        it; None where its forward pass runs in a worker of its own (which checks its model when it builds
        it). The shape check calls it before its time limit starts: the framework's import is not the user's
        code."""
        return None

    def forward_key(self, workload: Workload, arm: Arm) -> object:
        """What identifies ``arm``'s forward pass for the shape check (arms sharing it are checked once)."""
        return (self.name, arm.name)

    def forward_shape(self, workload: Workload, arm: Arm, x: np.ndarray, init: dict) -> tuple[int, ...]:
        """The shape of ``arm``'s logits for the input ``x`` (``init``: its initial weights), computed as
        cheaply as the kind allows; only called where ``load_framework`` gives a framework."""
        raise NotImplementedError
