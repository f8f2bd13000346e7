"""The Keras kind: arms trained in one worker process per Keras backend (``keras_worker``), their conventions
read by that worker or by an inspection worker, and localize's arrays recorded by the inspection worker
(``keras_inspect``). Nothing here imports Keras: the workers do, after their numerics flags."""

from __future__ import annotations

import os
import tempfile
import time
from dataclasses import replace
from typing import Any

import numpy as np

from paritybench.arms.base import Evaluation
from paritybench.arms.keras_inspect import run_job
from paritybench.arms.kind import Kind, Trajectory
from paritybench.arms.minibatch import applies
from paritybench.arms.protocol import ConventionsJob, Edit, LocalizeJob
from paritybench.errors import ParityError
from paritybench.experiment.weights import save_weights_npz
from paritybench.procs import tmp_prefix
from paritybench.workloads.base import Arm, Workload


class RecordedEvaluator:
    """A Keras arm's per-step arrays from its inspection worker (its own trajectory, or given weights)."""

    def __init__(self, arrays: dict[str, np.ndarray], names):
        self.a, self.names, self.k = arrays, names, 0

    def weights(self, k: int) -> dict[str, np.ndarray]:
        return {p: self.a[f"k{k}/weights/{p}"] for p in self.names}

    def _prefixed(self, prefix: str) -> dict[str, np.ndarray]:
        # np.savez keeps insertion order: the worker writes layers in the model's order
        return {key[len(prefix) :]: v for key, v in self.a.items() if key.startswith(prefix)}

    def model_state(self, k: int) -> dict[str, np.ndarray]:
        """The model state the worker stepped from at step k (its own, or the given one); {} if stateless."""
        return self._prefixed(f"k{k}/model_state/")

    def at_step(self, k: int) -> Evaluation:
        a = self.a
        state = self._prefixed(f"k{k}/state/")
        return Evaluation(
            a[f"k{k}/logits"],
            float(a[f"k{k}/loss"]),
            a[f"k{k}/dz"],
            {p: a[f"k{k}/grad/{p}"] for p in self.names},
            {p: a[f"k{k}/update/{p}"] for p in self.names},
            self._prefixed(f"k{k}/layer/"),
            state,
            self._prefixed(f"k{k}/eval/"),
            {p: v for p, v in state.items() if not p.startswith(("adam/", "optimizer/"))},
        )


def declared(workload: Workload, arm: Arm) -> Arm:
    """The workload's arm that ``arm`` is: itself, or the declared arm an ``explain`` switch changed
    (``<arm>+<switch>...``) in its ``keras_edits`` only, the one thing the worker, which builds arms by name from the
    workload, is sent besides the name. ParityError where it differs otherwise (nothing else reaches the worker)."""
    base = workload.arm(arm.name.split("+", 1)[0])
    if replace(base, name=arm.name, keras_edits=arm.keras_edits) != arm:
        raise ParityError(
            f"arm {arm.name} differs from the declared {base.name} in more than its keras_edits: a Keras worker "
            "builds the declared arm and can only apply keras_edits to it"
        )
    return base


def keras_arrays(ctx, arm: Arm, given: list | None, given_states: list | None = None) -> dict[str, np.ndarray]:
    """The Keras arm's per-step arrays from its inspection worker: along its own trajectory, or at ``given``
    weights (and, for a stateful model, ``given_states``); a minibatch or stateful workload's worker steps the
    same rows as ``ctx.batches`` and runs the evaluation phase on the same held-out window."""
    # a paritybench-<pid>- folder: a later run removes it should this process be SIGKILLed (procs.clean_stale_tmp)
    with tempfile.TemporaryDirectory(prefix=tmp_prefix() + "localize-") as tmp:
        init_file = os.path.join(tmp, "init.npz")
        save_weights_npz(init_file, {"w": ctx.init})
        slices = holdout_file = weights_file = states_file = None
        if applies(ctx.workload):
            batches = ctx.batches_for(arm)  # a shuffled Keras arm's worker draws its own order (fit_order)
            slices = tuple((s.start, s.stop) for s in batches.slices)
            if batches.xh is not None and ctx.workload.model.state:
                holdout_file = os.path.join(tmp, "holdout.npy")
                np.save(holdout_file, np.asarray(batches.xh, np.float32))
        if given is not None:
            weights_file = os.path.join(tmp, "given.npz")
            save_weights_npz(weights_file, {f"k{i}": w for i, w in enumerate(given)})
        if given_states is not None and ctx.workload.model.state:
            states_file = os.path.join(tmp, "states.npz")
            save_weights_npz(
                states_file,
                {f"k{i}": {p: np.asarray(v, np.float32) for p, v in s.items()} for i, s in enumerate(given_states)},
            )
        job = LocalizeJob(
            workload=ctx.workload.origin.get("spec", ctx.workload.name),
            arm=declared(ctx.workload, arm).name,
            lr=ctx.lr,
            steps=ctx.steps,
            window=ctx.window,
            n=ctx.n,
            normalize=ctx.normalize,
            data_path=ctx.data_path,
            data_sha256=ctx.data_sha256,
            init_file=init_file,
            out_dir=tmp,
            slices=slices,
            holdout_file=holdout_file,
            weights_file=weights_file,
            states_file=states_file,
            edits=tuple(Edit(e.part, e.cls, e.key, e.value, e.only) for e in arm.keras_edits),
        )
        t = time.perf_counter()
        res = run_job(arm.process.removeprefix("keras-"), job, ctx.numerics)
        ctx.seconds[arm.name] = time.perf_counter() - t
        with np.load(res.arrays_file) as z:  # the per-step arrays travel as one npz beside the message
            return {k: z[k] for k in z.files}


class KerasKind(Kind):
    """Keras arms: trained by ``run``'s worker of their backend (``Arm.process``), inspected by a worker."""

    name = "keras"
    in_worker = True

    def trajectory(self, ctx, arm: Arm) -> Trajectory:
        rec = RecordedEvaluator(keras_arrays(ctx, arm, None), ctx.workload.model.names)
        return Trajectory(
            [rec.weights(k) for k in range(ctx.steps + 1)],
            [rec.model_state(k) for k in range(ctx.steps + 1)],
            [rec.at_step(k) for k in range(ctx.steps)],
        )

    def at_weights(self, ctx, arm: Arm, traj: Trajectory) -> list[Evaluation]:
        rec = RecordedEvaluator(
            keras_arrays(
                ctx, arm, [{k: np.asarray(v, np.float32) for k, v in w.items()} for w in traj.weights], traj.states
            ),
            ctx.workload.model.names,
        )
        return [rec.at_step(k) for k in range(ctx.steps)]

    def conventions(
        self, workload: Workload, arm: Arm, lr: float, numerics, keras_rows: dict[str, dict] | None = None
    ) -> dict[str, Any] | None:
        if keras_rows is not None:
            if arm.name not in keras_rows:
                return None  # skipped or failed in the run: nothing was built to read
            return {"process": arm.process, **keras_rows[arm.name]}
        spec = workload.origin.get("spec", workload.name)
        res = run_job(arm.process.removeprefix("keras-"), ConventionsJob(spec, arm.name, lr), numerics)
        return {"process": arm.process, **res.rows}

    def cost_class(self, arm: Arm) -> str:
        return arm.process  # one worker per backend: each backend is priced on its own
