"""config -> data window + initial weights -> arms (one process per framework) -> runs.

The runner trains one workload's main-process arms (JAX, float64) itself, hands
each Keras backend to its own worker process, adds the diagnostics that need the ground
truth (gradient agreement, distance from the reference trajectory, the
Keras-vs-emulation mechanism check), then evaluates every final weight set with
every forward pass it has (the seed's weight swap). A framework that is not
installed makes its arms ``skipped``; a worker that fails makes its arms
``error``; neither stops the other arms. Every finished run is handed to
``on_run`` as soon as it is final, so a sweep can checkpoint it.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import numpy as np

from paritybench import artifact, procs, watchdog, workloads
from paritybench.analysis import diagnostics
from paritybench.arms import ArmResult, TrainSpec, protocol, worker_process
from paritybench.arms.f64 import as64
from paritybench.arms.minibatch import batch_slices
from paritybench.arms.registry import kind_of, main_evaluators
from paritybench.arms.requirements import install_hint, missing_requirements
from paritybench.artifact import num
from paritybench.artifact.records import RunKey, RunRecord, record_head
from paritybench.experiment import data, environment, flags, heads, weights
from paritybench.experiment.config import RunConfig
from paritybench.pipeline import conventions as conv
from paritybench.pipeline import worker_pool
from paritybench.pipeline.shapes import check_forward
from paritybench.workloads import Workload, resolve_ref
from paritybench.workloads.base import Arm

# Keras backends run in this order so that the TensorFlow worker, last, can
# evaluate the final weights of every other arm with its forward pass.
KERAS_ORDER = ("keras-torch", "keras-jax", "keras-tensorflow")
BASE_CURVES = ("loss", "accuracy", "correct", "grad_norm", "nonfinite")


@dataclass(frozen=True)
class Case:
    """One training problem: a seed's initial weights (or a perturbed copy) on one window."""

    seed: int
    window: int
    copy: int | None = None

    @property
    def id(self) -> str:
        return f"s{self.seed}-w{self.window}" + ("" if self.copy is None else f"-c{self.copy}")

    def key(self, arm: str) -> RunKey:
        return RunKey(arm, self.seed, self.window, self.copy)


class Progress:
    """What the runner reports as it goes; the CLI draws it with rich."""

    def start(self, total: int) -> None: ...

    def advance(self, label: str) -> None: ...


@dataclass
class RunOutput:
    runs: list[RunRecord]
    finals: dict[RunKey, weights.Weights]
    environment: dict
    timing: dict
    mechanism: list[dict] = field(default_factory=list)
    conventions: dict = field(default_factory=dict)


def _entry(
    workload: Workload,
    spec: Arm,
    case: Case,
    n: int,
    result: ArmResult | None = None,
    status: str = "ok",
    reason: str | None = None,
) -> RunRecord:
    e = record_head(case.key(spec.name), status, {"name": workload.name, "version": workload.version}, n, spec.loss)
    if result is None:
        e.update(
            reason=reason or status,
            initial_accuracy=None,
            final_accuracy=None,
            final_loss=None,
            curves={},
            final_weights_sha256=None,
            swap={},
        )
        return cast(RunRecord, e)
    c = result.curves
    nonfinite = [bool(v) for v in c["nonfinite"]]
    grad_norm = [float(v) for v in c["grad_norm"]]
    e.update(
        initial_accuracy=c["accuracy"][0],
        final_accuracy=c["accuracy"][-1],
        final_loss=num(c["loss"][-1]),
        # a Keras arm with another optimizer than SGD records NaN for "grad norm unavailable", not a NaN in training
        any_nonfinite=any(nonfinite)
        or (
            not str(result.info.get("grad_norm_source", "")).startswith("unavailable")
            and not all(np.isfinite(grad_norm))
        ),
        first_nonfinite_step=next((i for i, v in enumerate(nonfinite) if v), None),
        curves={
            "loss": [num(v) for v in c["loss"]],
            "accuracy": list(c["accuracy"]),
            "correct": [int(v) for v in c["correct"]],
            "grad_norm": [num(v) for v in grad_norm],
            "nonfinite": nonfinite,
            **{k: [num(x) for x in v] for k, v in c.items() if k not in BASE_CURVES},
        },
        final_weights_sha256=weights.weights_sha256(result.final_weights),
        swap={},
        info=dict(result.info),
    )
    if absent := heads.ABSENT[workload.model.head]:  # a linear head: no accuracy, no class diagnostics
        e["curves"] = {k: v for k, v in e["curves"].items() if k not in absent}
        e.update(initial_accuracy=None, final_accuracy=None, metric=heads.metric(workload.model.head))
        e["absent"] = {k: v for k, v in absent.items() if k in c}
    if "eval_accuracy" in e["curves"]:  # Data.holdout: evaluation mode on the samples after the window
        e["final_eval_accuracy"] = c["eval_accuracy"][-1]
    if result.state:  # Model.state: the moving statistics after every step, full vectors
        e["state"] = {k: [[num(x) for x in v] for v in vs] for k, vs in result.state.items()}
    return cast(RunRecord, e)


def _swaps(cfg: RunConfig, workload: Workload) -> bool:
    """Whether the run does the weight swap: not for a stateful model (its evaluation needs its state too), nor
    for a head without classes (the swap counts correct predictions)."""
    return cfg.swap and not workload.model.state and heads.metric(workload.model.head) == "accuracy"


class _Session:
    """State of one ``run`` call: the workload, data, initial weights, the reference cache, results."""

    def __init__(
        self,
        cfg: RunConfig,
        workload: Workload,
        cases: list[Case],
        inits: dict[str, weights.Weights] | None,
        keep_trajectory: bool,
        on_run: Callable[[RunRecord], None] | None,
        progress: Progress,
    ):
        self.cfg, self.workload, self.cases, self.progress = cfg, workload, cases, progress
        self.ds = workloads.load_data(workload, cfg.data_path, cfg.data_sha256)
        # every window is checked before any training starts
        self.windows = {
            w: data.window(self.ds, w, cfg.n, cfg.normalize, labels=workload.data.labels)
            for w in sorted({c.window for c in cases})
        }
        # Data.holdout: the samples right after each training window, evaluated in evaluation mode
        self.holdouts = (
            {
                w: data.window(self.ds, w + cfg.n, workload.data.holdout, cfg.normalize, labels=workload.data.labels)
                for w in self.windows
            }
            if workload.data.holdout
            else {}
        )
        # arm -> case id -> that arm's own initial weights (Arm.init), drawn once per seed
        self.arm_inits: dict[str, dict[str, weights.Weights]] = {}
        if inits is None:  # the workload's initial weights, drawn once per seed
            seeds = sorted({c.seed for c in cases})
            init = resolve_ref(workload.model.init)
            by_seed = {
                s: weights.copy_weights(init(s, cfg.threefry_partitionable), workload.model.params) for s in seeds
            }
            inits = {c.id: by_seed[c.seed] for c in cases}
            for a in workload.resolve_arms(cfg.arms):
                if a.init is not None and not missing_requirements(a):  # a skipped arm draws nothing
                    own = resolve_ref(a.init)
                    drawn = {
                        s: weights.copy_weights(own(s, cfg.threefry_partitionable), workload.model.params)
                        for s in seeds
                    }
                    self.arm_inits[a.name] = {c.id: drawn[c.seed] for c in cases}
        self.inits = inits
        self.spec = TrainSpec(
            steps=cfg.steps, lr=cfg.lr, keep_trajectory=keep_trajectory, batch_size=workload.data.batch_size
        )
        ref = workload.arm(workload.reference)
        self.arbiter = kind_of(ref).arbiter(workload, ref)  # JAX in float64 (arms.f64), or torch (arms.torch_f64)
        self.ref_grads = diagnostics.GradMemo()  # the reference's gradient at weights already seen
        self.on_run = on_run
        self.runs: dict[RunKey, RunRecord] = {}
        self.finals: dict[RunKey, weights.Weights] = {}
        self.step1: dict[RunKey, weights.Weights] = {}
        # a mechanism pair's framework arm: its step-0 weights and its own autodiff gradient (never one derived
        # from the trajectory), for the rule check
        self.step0: dict[RunKey, tuple[weights.Weights, weights.Weights]] = {}
        self.ref_traj: dict[str, list[weights.Weights]] = {}
        # run key -> label -> share correct: every final weight set through this process's forward passes
        self.main_swap: dict[RunKey, dict[str, float]] = {}
        self.timing = {"train_seconds": 0.0, "compile_seconds": 0.0, "diagnostics_seconds": 0.0, "process_seconds": {}}

    def init_for(self, arm: str, case: Case) -> weights.Weights:
        """The initial weights ``arm`` trains from on ``case`` (its own Arm.init, else the shared ones)."""
        return self.arm_inits.get(arm, self.inits)[case.id]

    def xy64(self, window: int):
        x, y = self.windows[window]
        return as64(x), as64(y)  # class or token ids stay integers

    def reference_trajectory(self, case: Case) -> list[weights.Weights]:
        if case.id not in self.ref_traj:
            x, y = self.windows[case.window]
            res = self.arbiter.run(self.init_for(self.workload.reference, case), x, y, self.spec)
            self.ref_traj[case.id] = res.trajectory
        return self.ref_traj[case.id]

    def record(self, spec: Arm, case: Case, result: ArmResult) -> None:
        """Finalise one arm's run on one case: diagnostics against the truth, then hand it on."""
        key = case.key(spec.name)
        if self.spec.keep_trajectory and result.trajectory is not None:
            t = time.perf_counter()
            if spec.name == self.workload.reference:
                self.ref_traj.setdefault(case.id, result.trajectory)
            grads = result.grads
            if grads is None and spec.optimizer is None and spec.keras_optimizer is None:
                # plain SGD: the applied gradient is (w_k - w_k+1) / lr
                grads = diagnostics.grads_from_trajectory(result.trajectory, self.cfg.lr)
            x64, y64 = self.xy64(case.window)
            if grads is not None and self.spec.batch_size:  # step k's gradient is batch k's
                rows: list = batch_slices(self.cfg.n, self.spec.batch_size, self.spec.steps)
                if "shuffle" in result.info:  # a shuffled arm's own rows (Arm.shuffle_seed), as it recorded them
                    rows = [np.asarray(r) for r in result.info["shuffle"]["rows"]]
                result.curves.update(
                    diagnostics.agreement_curves(
                        result.trajectory,
                        grads,
                        self.reference_trajectory(case),
                        None,
                        ref_grad_at_step=lambda k, w: self.arbiter.batch_grad(w, x64[rows[k]], y64[rows[k]]),
                    )
                )
            elif grads is not None:
                if spec.name == self.workload.reference and result.grads is not None:
                    # its training took the reference's gradient at each of its own steps
                    for w, g in zip(result.trajectory, result.grads, strict=False):
                        self.ref_grads.put(case.id, w, g)
                result.curves.update(
                    diagnostics.agreement_curves(
                        result.trajectory,
                        grads,
                        self.reference_trajectory(case),
                        self.ref_grads.fn(case.id, lambda w: self.arbiter.grad_at(w, x64, y64)),
                    )
                )
            self.step1[key] = result.trajectory[1]
            if result.grads and spec.name in self.workload.mechanism_pairs:
                self.step0[key] = (result.trajectory[0], result.grads[0])
            self.timing["diagnostics_seconds"] += time.perf_counter() - t
        self.timing["train_seconds"] += result.info.get("train_seconds", 0.0)
        self.timing["compile_seconds"] += result.info.get("compile_seconds", 0.0)
        self.runs[key] = _entry(self.workload, spec, case, self.cfg.n, result)
        self.finals[key] = result.final_weights
        if self.on_run:
            self.on_run(self.runs[key])

    def evaluate_swap(self) -> None:
        """The weight swap's part in this process (``main_evaluators``) for every final weight set not yet
        evaluated. Called as the finals come in (the main arms' once they trained, each worker's once collected,
        the last worker's while the workers evaluate theirs), so that this process's forward passes run while
        the workers train and evaluate instead of after them; the same passes on the same weights."""
        if not _swaps(self.cfg, self.workload):
            return
        evaluators = main_evaluators(self.workload)
        for key, w in self.finals.items():
            if key not in self.main_swap:
                x, y = self.windows[key.window]
                scored = heads.scored(self.workload.model.head, y.shape, y.dtype)  # cfg.n for one label per sample
                self.main_swap[key] = {label: fn(self.workload, w, x, y) / scored for label, fn in evaluators.items()}

    def fail(self, spec: Arm, case: Case, status: str, reason: str) -> None:
        key = case.key(spec.name)
        self.runs[key] = _entry(self.workload, spec, case, self.cfg.n, status=status, reason=reason)
        if self.on_run:
            self.on_run(self.runs[key])

    def skip_if_missing(self, spec: Arm, cases: list[Case]) -> bool:
        """Record every case as skipped when the arm's framework is not installed; True if so."""
        missing = missing_requirements(spec)
        if not missing:
            return False
        for c in cases:
            what = "no GPU visible" if missing == ["gpu"] else f"{', '.join(missing)} not installed"
            self.fail(spec, c, "skipped", f"{what}: {install_hint(missing)}")
            self.progress.advance(f"{spec.name} skipped")
        return True


def default_cases(cfg: RunConfig) -> list[Case]:
    return [Case(s, w) for s in cfg.seeds for w in cfg.windows]


def run(
    cfg: RunConfig,
    progress: Progress | None = None,
    *,
    cases: list[Case] | None = None,
    inits: dict[str, weights.Weights] | None = None,
    skip: Iterable[RunKey] = (),
    on_run: Callable[[RunRecord], None] | None = None,
    keep_trajectory: bool | None = None,
    pool: worker_pool.KerasPool | None = None,
) -> RunOutput:
    """Train every arm of ``cfg`` on every case; return runs, final weights and diagnostics.

    ``cases`` defaults to seeds x windows; ``inits`` (by case id) to the workload's
    initial weights per seed; runs whose key is in ``skip`` are not trained
    (a resumed sweep); ``keep_trajectory`` (default: ``cfg.diagnostics == "full"``)
    enables the diagnostics that need every step's weights. With ``pool`` (``run --workload all``)
    the Keras arms go to the pool's serving workers instead of workers of this run's own.
    """
    progress = progress or Progress()
    t_start = time.perf_counter()
    watchdog.configure(cfg.step_timeout)
    workload = workloads.load(cfg.workload)
    cases = cases or default_cases(cfg)
    keep = (cfg.diagnostics == "full") if keep_trajectory is None else keep_trajectory
    specs = workload.resolve_arms(cfg.arms)
    skip = set(skip)
    todo = {spec.name: [c for c in cases if c.key(spec.name) not in skip] for spec in specs}
    by_process: dict[str, list[Arm]] = {}
    for s in specs:
        if s.process != "main":
            by_process.setdefault(s.process, []).append(s)
    swap_extra: list[dict] = []
    procs.clean_stale_tmp()  # folders a killed run could not remove
    # with a pool, inside the pool's folder: its workers remove that folder if this process is SIGKILLed
    with tempfile.TemporaryDirectory(prefix=procs.tmp_prefix(), dir=pool.tmp if pool is not None else None) as tmp:
        # The Keras workers start first, before this process loads the data, draws the initial weights
        # (importing JAX) and checks the shapes: each imports its backend while this process starts up, then
        # takes its job and trains while this process trains the JAX and float64 arms, so imports and compiles
        # overlap instead of adding up. Each waits, once trained, for the list of other arms' final weights to
        # evaluate (the weight swap). A start-up that fails (bad data, a wrong shape) stops them unused.
        workers: list[_KerasWorker] = []
        early = {}
        if pool is None:
            early = _spawn_keras(cfg, by_process, todo, Path(tmp))
        else:
            for process in _with_work(by_process, todo):
                pool.prestart(process, cfg.numerics.to_dict())  # a serving worker, started now if there is none
        try:
            sess = _Session(cfg, workload, cases, inits, keep, on_run, progress)
            _check_shapes(sess, [s for s in specs if todo[s.name] and not missing_requirements(s)], todo)
            progress.start(sum(len(v) for v in todo.values()))

            env = environment.fingerprint()
            env["frameworks"] = {"main": flags.read_back("jax", cfg.numerics)}
            for s in specs:  # what a kind of arm sets in this process (native torch: threads, determinism), read back
                fw = kind_of(s).process_framework
                if fw is not None and fw not in env["frameworks"] and not missing_requirements(s):
                    env["frameworks"][fw] = kind_of(s).process_numerics(cfg.numerics)
            env["data"] = data.describe(sess.ds)

            for process in sorted(by_process, key=lambda p: KERAS_ORDER.index(p) if p in KERAS_ORDER else 99):
                worker = _start_keras(process, by_process[process], todo, sess, Path(tmp), pool, early.get(process))
                if worker is not None:
                    workers.append(worker)
            t_main = time.perf_counter()
            # the ground truth first: its trajectory is what the others are measured against
            main_specs = sorted((s for s in specs if s.process == "main"), key=lambda s: s.name != workload.reference)
            for spec in main_specs:
                _run_main(spec, todo[spec.name], sess)
            sess.timing["process_seconds"]["main"] = time.perf_counter() - t_main
            sess.evaluate_swap()  # the main arms' finals, while the workers train
            # Every swap is sent before any result is read, so the workers evaluate at the same time, not one
            # after another; each final weight set is saved once for all of them.
            for worker in workers:
                worker.collect_training(sess)
                if worker is not workers[-1]:  # its finals, while the later workers train
                    sess.evaluate_swap()
            swap_files = _swap_files(sess, Path(tmp)) if workers else {}
            for worker in workers:
                worker.send_swap(sess, swap_files)
            sess.evaluate_swap()  # the last worker's finals, while the workers evaluate
            for worker in workers:
                worker.finish(sess, swap_extra, env)
        finally:
            for worker in workers:
                worker.stop()
            for wp, _ in early.values():  # stopped above once handed a job; here if the start-up failed
                wp.stop()

    if _swaps(cfg, workload):
        by_id = {c.id: c for c in cases}
        sess.evaluate_swap()  # evaluated as they came in (``_Session.evaluate_swap``)
        for key in sess.finals:
            sess.runs[key]["swap"].update(sess.main_swap[key])
        for item in swap_extra:
            key = by_id[item["case"]].key(item["label"])
            if key in sess.runs:
                y = sess.windows[by_id[item["case"]].window][1]
                sess.runs[key]["swap"][item["evaluator"]] = item["correct"] / heads.scored(
                    workload.model.head, y.shape, y.dtype
                )
        # a worker's own forward pass on its own weights belongs in the swap too
        for entry in sess.runs.values():
            if entry["status"] == "ok" and workload.arm(entry["arm"]).process != "main":
                entry["swap"].setdefault(entry["arm"], entry["final_accuracy"])

    mechanism = []
    for keras_arm, emulation in workload.mechanism_pairs.items():
        twin = workload.arm(emulation)
        for c in cases:
            a, b = c.key(keras_arm), c.key(emulation)
            if a in sess.step1 and b in sess.step1:
                d1 = diagnostics.max_abs_diff(sess.step1[a], sess.step1[b])
                rule: dict = {}
                if a in sess.step0:
                    # the twin's rule given the framework arm's own step-0 weights and gradient: the rule alone
                    w0, g0 = sess.step0[a]
                    w1 = kind_of(twin).update_once(twin, w0, g0, cfg.lr)
                    if w1 is not None:
                        rule["max_abs_diff_rule_step1"] = num(diagnostics.max_abs_diff(sess.step1[a], w1))
                dr = rule.get("max_abs_diff_rule_step1")
                verdict = diagnostics.mechanism_verdict(d1, dr if isinstance(dr, float) else None)
                mechanism.append(
                    {
                        # "keras_arm" names the framework's arm (a Keras arm, or a torch arm and the JAX arm it matches)
                        "keras_arm": keras_arm,
                        "framework": workload.arm(keras_arm).kind,
                        "emulation": emulation,
                        **a.case.fields(),
                        "max_abs_diff_step1": num(d1),
                        "max_abs_diff_final": num(diagnostics.max_abs_diff(sess.finals[a], sess.finals[b])),
                        "tolerance": diagnostics.MECHANISM_TOLERANCE,
                        **rule,
                        # the same rule with its rounding grown is the mechanism reproduced (``mechanism_verdict``)
                        "reproduced": verdict != "not reproduced",
                        "verdict": verdict,
                    }
                )

    keras_rows = {
        arm: rows
        for fw in env["frameworks"].values()
        if isinstance(fw, dict)
        for arm, rows in (fw.pop("conventions", None) or {}).items()
    }
    table = conv.collect(workload, specs, cfg.lr, cfg.numerics, keras_rows=keras_rows)
    sess.conventions = {"arms": table, "differing": conv.differing(table)}
    sess.timing["total_seconds"] = time.perf_counter() - t_start
    ordered = [sess.runs[c.key(spec.name)] for c in cases for spec in specs if c.key(spec.name) in sess.runs]
    return RunOutput(
        runs=ordered,
        finals=sess.finals,
        environment=env,
        timing=sess.timing,
        mechanism=mechanism,
        conventions=sess.conventions,
    )


def _check_shapes(sess: _Session, specs: list[Arm], todo: dict[str, list[Case]]) -> None:
    """Every arm that trains here maps the input to the labels' shape, before any training (one line if not)."""
    if not specs:
        return
    first = todo[specs[0].name][0]
    x, y = sess.windows[first.window]
    check_forward(sess.workload, specs, x, y, lambda arm: sess.init_for(arm, todo[arm][0]), sess.cfg.step_timeout)


def _run_main(spec: Arm, cases: list[Case], sess: _Session) -> None:
    if sess.skip_if_missing(spec, cases):
        return
    by_window: dict[int, list[Case]] = {}
    for c in cases:
        by_window.setdefault(c.window, []).append(c)
    train_many = kind_of(spec).train_many
    for window, group in by_window.items():
        x, y = sess.windows[window]
        # the user's code under the step time limit: a function that never returns makes this arm an error
        seconds = sess.cfg.step_timeout * (sess.cfg.steps + 1)  # +1: the compile and the last measurement
        try:
            kw = {"eval_data": sess.holdouts[window]} if window in sess.holdouts else {}
            with watchdog.limit(seconds, f"arm {spec.name}'s training ({sess.cfg.steps} steps)"):
                results = train_many(
                    sess.workload, spec, [sess.init_for(spec.name, c) for c in group], x, y, sess.spec, **kw
                )
        except Exception as exc:  # an arm's crash is its result, not the harness's
            for c in group:
                sess.fail(spec, c, "error", f"{type(exc).__name__}: {exc}")
                sess.progress.advance(f"{spec.name} {c.id} failed")
            continue
        for c, result in zip(group, results, strict=True):
            sess.record(spec, c, result)
            sess.progress.advance(f"{spec.name} {c.id}")


class _KerasWorker:
    """One worker process for every Keras arm of one backend: started, its training collected, then the
    weight swap sent on its channel and its environment and swap results read back (``arms.protocol``).
    With a pool the process is the pool's serving worker and outlives this job when the job ends cleanly."""

    def __init__(
        self,
        process: str,
        specs: list[Arm],
        todo: dict[str, list[Case]],
        sess: _Session,
        job_dir: Path,
        wp: worker_process.WorkerProcess,
        t_start: float,
        pool: worker_pool.KerasPool | None = None,
    ):
        self.process, self.specs, self.todo, self.job_dir = process, specs, todo, job_dir
        self.wp, self.proc, self.t_start = wp, wp.proc, t_start
        self.pool = pool
        self.by_name = {s.name: s for s in specs}
        self.done: set[tuple[str, str]] = set()
        self.completed = False  # the job's JobDone was read: a pooled worker may serve the next one

    def collect_training(self, sess: _Session) -> None:
        """Record every case the worker trains, as it reports them, until it has trained them all."""
        cfg, workload = sess.cfg, sess.workload
        shapes = workload.model.params
        by_id = {c.id: c for c in sess.cases}
        for msg in self.wp.events(until=protocol.Trained):
            if not isinstance(msg, protocol.CaseDone):
                continue
            w = weights.load_weights_npz(msg.final_file, shapes)["w"]
            result = ArmResult(msg.curves, w, msg.info, state=msg.state)
            if msg.traj_file is not None:
                t = weights.load_weights_npz(msg.traj_file, shapes)
                result.trajectory = [t[f"k{i}"] for i in range(cfg.steps + 1)]
                os.unlink(msg.traj_file)
            self.done.add((msg.arm, msg.id))
            sess.record(self.by_name[msg.arm], by_id[msg.id], result)
            sess.progress.advance(f"{msg.arm} {msg.id}")

    def send_swap(self, sess: _Session, files: dict[RunKey, Path]) -> None:
        """Send the weight swap: every final weight set (``files``, saved once for every worker by
        ``_swap_files``) to evaluate with this backend's forward pass; an empty one without the swap."""
        evaluate = []
        if _swaps(sess.cfg, sess.workload) and self.proc.poll() is None:
            common = _task_common(sess)
            for key, f in files.items():
                evaluate.append(
                    protocol.EvaluateItem(
                        workload=common["workload"],
                        lr=common["lr"],
                        n=common["n"],
                        normalize=common["normalize"],
                        window=key.window,
                        label=key.arm,
                        case=Case(key.seed, key.window, key.copy).id,
                        weights_file=str(f),
                        evaluator=self.specs[0].name,
                        workload_sha256=common["workload_sha256"],
                    )
                )
        # a failed write means the worker is gone: its status says why (``finish``)
        self.wp.send(protocol.Evaluate(tuple(evaluate)), close=self.pool is None)

    def finish(self, sess: _Session, swap_extra: list[dict], env: dict) -> None:
        """Read the swap's result (``send_swap`` sent it) and the worker's environment."""
        result = None
        for msg in self.wp.events(until=protocol.JobDone):
            if isinstance(msg, protocol.JobDone):
                result = msg
        if self.pool is None:  # a worker of this run's own exits after its job
            rc = self.wp.wait()
        else:  # a serving worker stays up: its JobDone ends the job, the end of its messages its life
            rc = 0 if result is not None else self.wp.wait()
        sess.timing["process_seconds"][self.process] = time.perf_counter() - self.t_start
        if rc != 0 or result is None:  # a worker that exits 0 without its result errors too
            self._fail(sess, self.wp.why(rc, f"{self.process} worker"))
            return
        self.completed = True
        env["frameworks"][self.process] = result.environment
        swap_extra.extend(dataclasses.asdict(s) for s in result.swap)

    def _fail(self, sess: _Session, reason: str) -> None:
        for s in self.specs:
            for c in self.todo[s.name]:
                if (s.name, c.id) not in self.done:
                    sess.fail(s, c, "error", reason)

    def stop(self) -> None:
        """On any way out: a worker still running is stopped with its whole process group, unless
        it is a pool's worker that finished this job cleanly (it serves the next workload)."""
        if self.pool is None:
            self.wp.stop()
            return
        if not self.completed:  # died, failed or interrupted mid-job: the next workload gets a fresh worker
            self.pool.discard(self.wp)
        self.pool.release_job(self.job_dir)


def _swap_files(sess: _Session, tmp: Path) -> dict[RunKey, Path]:
    """Every final weight set, saved once for every Keras worker's weight swap: run key -> file (none without
    the swap)."""
    if not _swaps(sess.cfg, sess.workload):
        return {}
    folder = tmp / "swap"
    folder.mkdir(exist_ok=True)
    files = {}
    for key, w in sess.finals.items():
        files[key] = folder / f"eval-{key.arm}-{Case(key.seed, key.window, key.copy).id}.npz"
        weights.save_weights_npz(files[key], {"w": w})
    return files


def _task_common(sess: _Session) -> dict:
    cfg, workload = sess.cfg, sess.workload
    return {
        "workload": workload.origin.get("spec", workload.name),
        "workload_sha256": workload.origin.get("sha256"),
        "steps": cfg.steps,
        "lr": cfg.lr,
        "n": cfg.n,
        "normalize": cfg.normalize,
    }


def _spawn_keras(
    cfg: RunConfig, by_process: dict[str, list[Arm]], todo: dict[str, list[Case]], tmp: Path
) -> dict[str, tuple[worker_process.WorkerProcess, float]]:
    """Start, before the run's own start-up, the worker of every Keras process that will have work (an arm with
    cases whose framework is installed: the arms ``_start_keras`` keeps): process -> (worker, its start time).
    Each imports its backend at once (``keras_worker.serve``) and waits for its job."""
    early = {}
    for process in _with_work(by_process, todo):
        t_start = time.perf_counter()
        (tmp / process).mkdir()
        # the worker dies with us and removes tmp
        wp = worker_process.start(
            "keras_worker",
            process.removeprefix("keras-"),
            cfg.numerics.to_dict(),
            tmp,
            tmp / process / "worker.log",
        )
        early[process] = (wp, t_start)
    return early


def _with_work(by_process: dict[str, list[Arm]], todo: dict[str, list[Case]]) -> list[str]:
    """The Keras processes that will have work (an arm with cases whose framework is installed: the arms
    ``_start_keras`` keeps), in ``KERAS_ORDER``."""
    return [
        process
        for process in sorted(by_process, key=lambda p: KERAS_ORDER.index(p) if p in KERAS_ORDER else 99)
        if any(todo[s.name] and not missing_requirements(s) for s in by_process[process])
    ]


def _start_keras(
    process: str,
    specs: list[Arm],
    todo: dict[str, list[Case]],
    sess: _Session,
    tmp: Path,
    pool: worker_pool.KerasPool | None = None,
    early: tuple[worker_process.WorkerProcess, float] | None = None,
) -> _KerasWorker | None:
    """Send one worker process the job of every Keras arm of one backend: the pool's, else the worker ``early``
    that ``_spawn_keras`` started for it, with its folder (None when no arm has work)."""
    specs = [s for s in specs if todo[s.name] and not sess.skip_if_missing(s, todo[s.name])]
    if not specs:
        if early is not None:
            early[0].stop()
        return None
    t_start = time.perf_counter() if early is None else early[1]
    cfg = sess.cfg
    backend = process.removeprefix("keras-")
    job_dir = pool.job_dir(process) if pool is not None else tmp / process
    init_files: dict[tuple[str, str], str] = {}  # (arm or "" for the shared weights, case id) -> file
    for spec in specs:
        own = spec.name if spec.name in sess.arm_inits else ""
        for c in todo[spec.name]:
            if (own, c.id) not in init_files:
                init_files[(own, c.id)] = str(job_dir / f"init-{own + '-' if own else ''}{c.id}.npz")
                weights.save_weights_npz(init_files[(own, c.id)], {"w": sess.init_for(spec.name, c)})
    common = _task_common(sess)
    job = protocol.TrainJob(
        backend=backend,
        numerics=cfg.numerics.to_dict(),
        data_path=cfg.data_path,
        data_sha256=cfg.data_sha256,
        out_dir=str(job_dir),
        keep_trajectory=sess.spec.keep_trajectory,
        step_timeout=cfg.step_timeout,
        tasks=tuple(
            protocol.Task(
                **common,
                arm=s.name,
                cases=tuple(
                    protocol.CaseSpec(
                        id=c.id,
                        window=c.window,
                        init_file=init_files[(s.name if s.name in sess.arm_inits else "", c.id)],
                    )
                    for c in todo[s.name]
                ),
            )
            for s in specs
        ),
    )
    if pool is not None:
        wp = pool.acquire(process, cfg.numerics.to_dict(), job)
        return _KerasWorker(process, specs, todo, sess, job_dir, wp, t_start, pool)
    # _spawn_keras started a worker for every process with an arm that has work and its framework (the same
    # test as skip_if_missing above), so without a pool there is one here
    assert early is not None, f"no worker was started for {process}"
    wp = early[0]
    wp.send(job)  # a worker that died at once reports it through its messages and status
    return _KerasWorker(process, specs, todo, sess, job_dir, wp, t_start)


def workload_record(cfg: RunConfig) -> dict:
    """The artifact's ``workload`` object: name, version, question, where it came from."""
    return workloads.load(cfg.workload).describe()


def build_artifact(
    cfg: RunConfig, out: RunOutput, kind: str = "run", weights_file: str | None = None, extra: dict | None = None
) -> dict:
    """The artifact of one ``run`` call: its config and workload from ``cfg``, the rest from ``out``."""
    return artifact.build_artifact(
        kind=kind,
        config_hash=cfg.short_hash(),
        workload=workload_record(cfg),
        reference_arm=workloads.load(cfg.workload).reference,
        config={
            **cfg.to_dict(),
            "numerics": cfg.numerics.to_dict(),
            "data": {"path": cfg.data_path or "(bundled)", "expected_sha256": cfg.data_sha256},
        },
        environment=out.environment,
        timing=out.timing,
        runs=out.runs,
        weights_file=weights_file,
        mechanism=out.mechanism,
        conventions=out.conventions,
        extra=extra,
    )
