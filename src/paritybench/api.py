"""The Python API: ``paritybench run``, ``localize`` and ``explain`` as calls that return their results.

    from paritybench import api

    result = api.run("seed-bce", arms=["jax-naive", "jax-logits", "reference-f64"], steps=3)
    result.rows          # one Row per arm, seed and window: status, final accuracy and loss
    result.artifact      # the artifact's path (in a new temporary folder when ``out`` is not given)
    result.answer        # the report's sentences on the gap to the reference arm
    found = api.localize(result, "jax-naive")   # against the workload's reference arm
    found.first          # Parting(step=0, phase="loss", tensor="value", ...); None where they never part
    why = api.explain("adam-epsilon", "jax-adam-literal")   # the switches that close the gap, ranked
    why.pairs[0].verdict # "adam epsilon placement closes the gap: 9.54e3x -> 1x the noise floor (...)"
    api.read_run("results/runs/X.json")         # a run the CLI wrote, as the same result

    with api.session():                          # many runs in one process (a notebook, a test session)
        for arms in (["jax-naive", "keras-jax"], ["jax-logits", "keras-jax"]):
            api.run("seed-bce", arms=[*arms, "reference-f64"], steps=3)   # ONE keras-jax worker serves both

Each call runs the command's own code (``commands.run.cmd_run``, ``commands.localize.cmd_localize``) on the
options the CLI parses for an empty command line, with the call's arguments put in (``commands.defaults``):
a call and the command line with the same options train the same thing and write the same files. A problem
is a ``paritybench.errors.ParityError`` with the CLI's one-line message.

``workload`` is a built-in or installed workload name, a path to a workload file (``path/to/workload.py``),
``package.module:attr``, or a ``Workload`` object that ``paritybench.workloads.load`` returned (the Keras
workers load the workload again from where it came from, in their own processes).

Numerics flags: the CLI sets them in the environment before any framework is imported. A call sets them
too, before it loads the workload; where JAX, TensorFlow, torch or Keras is already imported in this process
with other values (``experiment.flags.not_in_effect``), those cannot take effect and the call is refused,
naming them. Call ``set_flags()`` before importing a framework (a notebook's first cell) to train in the
same process as your own framework code.

Keras workers: each ``run`` outside a ``session()`` starts one worker process per Keras backend it trains, which
spends seconds of CPU time importing its backend before it trains (TensorFlow's the most). Inside
``with api.session():`` the runs share the workers of one ``pipeline.worker_pool.KerasPool``, as ``run --workload
all`` does: one serving worker per (backend, numerics), started by the first run that needs it and stopped when the
block ends; between jobs a worker clears its Keras session and seeds again, so an arm trains as in a worker of its
own (tests/test_worker_pool.py). ``localize`` and ``explain`` read the Keras arms' tensors in inspection workers
of their own (``arms.keras_inspect``), one per call, session or not.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import tempfile
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from paritybench import workloads
from paritybench.analysis.report import answer_from_run
from paritybench.artifact import read_artifact, unnum
from paritybench.commands.defaults import parsed_defaults
from paritybench.commands.explain import cmd_explain
from paritybench.commands.localize import cmd_localize
from paritybench.commands.run import cmd_run
from paritybench.errors import ParityError
from paritybench.experiment import flags
from paritybench.pipeline.worker_pool import KerasPool
from paritybench.workloads import Workload

WorkloadLike = str | os.PathLike[str] | Workload

# ParityError: the one exception a call raises (paritybench.errors), here so that a caller needs one import
__all__ = [
    "ExplainResult",
    "LocalizeResult",
    "PairParting",
    "ParityError",
    "Parting",
    "Row",
    "RunResult",
    "explain",
    "localize",
    "read_run",
    "run",
    "session",
    "set_flags",
]


@dataclass(frozen=True)
class Row:
    """One run of one arm: the row of ``paritybench run``'s table."""

    arm: str
    seed: int
    window: int
    status: str  # ok, error or skipped
    final_accuracy: float | None
    final_loss: float | None  # NaN or inf where training went non-finite
    reason: str | None  # why an arm is error or skipped


@dataclass(frozen=True)
class RunResult:
    """What ``run`` returns: the table's rows, the artifact, and the report's answer."""

    artifact: Path
    workload: str  # the spec the run loaded it by (a name, a file's absolute path, module:attr)
    reference: str  # the workload's reference arm (the float64 arbiter for the built-in workloads)
    rows: tuple[Row, ...]
    answer: tuple[str, ...]  # the report's sentences: which arms end level with the reference, and why not
    text: str  # what the command printed (the table)
    record: dict[str, Any]  # the artifact itself

    def row(self, arm: str, seed: int | None = None, window: int | None = None) -> Row:
        """The first row of ``arm`` (at ``seed`` and ``window`` where given)."""
        for r in self.rows:
            if r.arm == arm and seed in (None, r.seed) and window in (None, r.window):
                return r
        raise ParityError(f"arm {arm} has no run in {self.artifact}: its arms are {', '.join(self.arms)}")

    @property
    def arms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(r.arm for r in self.rows))


@dataclass(frozen=True)
class Parting:
    """Where two arms first part: the step, phase and tensor, and the difference over the noise floor."""

    step: int
    phase: str  # forward, loss, backward, update or evaluation
    tensor: str  # a layer, a parameter, "value", "d loss/d logit", ...
    ratio: float  # difference / the float32 noise floor at the same weights; inf where one side is non-finite
    detail: str


@dataclass(frozen=True)
class PairParting:
    """One pair's answer from ``localize``: its first parting (None where they never part) and its line."""

    a: str
    b: str
    first: Parting | None
    max_ratio: float
    line: str  # localize's line for the pair, as the CLI prints it

    @property
    def parts(self) -> bool:
        return self.first is not None


@dataclass(frozen=True)
class LocalizeResult:
    """What ``localize`` returns: each pair's first parting and the record's path."""

    record: Path
    pairs: tuple[PairParting, ...]
    skipped: tuple[str, ...]  # pairs not run, with why (a framework that is not installed)
    text: str  # what the command printed

    @property
    def first(self) -> Parting | None:
        """The one pair's first parting (a call that named one arm, or two)."""
        if len(self.pairs) != 1:
            raise ParityError(
                f"localize compared {len(self.pairs)} pairs ({', '.join(f'{p.a} vs {p.b}' for p in self.pairs)}), "
                "not one: read .pairs, or name the arm and the one to compare it with (against=...)"
            )
        return self.pairs[0].first


@dataclass(frozen=True)
class ExplainResult:
    """What ``explain`` returns: the explain record (``pairs``: each pair's parting, verdict and switches, ranked)
    and its path."""

    record: Path
    pairs: tuple[Any, ...]  # the record's pairs, as dicts (docs/localize.md, section Explain, lists their keys)
    text: str  # what the command printed

    @property
    def verdict(self) -> str:
        """The one pair's verdict."""
        if len(self.pairs) != 1:
            raise ParityError(f"explain explained {len(self.pairs)} pairs, not one: read .pairs")
        return self.pairs[0]["verdict"]


def set_flags(deterministic: bool = True, onednn: bool | None = None, threads: int | None = None) -> None:
    """Set the numerics flags ``run`` and ``localize`` set, now: call it before importing JAX, TensorFlow,
    torch or Keras, and frameworks imported afterwards load with them (the arguments are ``run``'s)."""
    opts = flags.NumericsOptions(deterministic=deterministic, onednn=onednn, threads=threads)
    _check_flags(opts, "set_flags")
    flags.apply(opts)


# The pool of the ``session()`` block this process is in; None outside one.
_POOL: KerasPool | None = None


@contextlib.contextmanager
def session() -> Iterator[KerasPool]:
    """A block whose ``run`` calls share Keras worker processes: one per (backend, numerics), started by the first
    run that needs it and stopped, with its temporary folder, when the block ends (an exception included). A
    worker that died or failed a job is dropped, and the next run that needs its backend starts a fresh one. A
    ``session()`` inside another is the outer one. Yields the pool (``.started``: the workers it started)."""
    global _POOL
    if _POOL is not None:
        yield _POOL
        return
    with KerasPool() as pool:
        _POOL = pool
        try:
            yield pool
        finally:
            _POOL = None


def run(
    workload: WorkloadLike | None = None,
    *,
    arms: str | Sequence[str] | None = None,
    steps: int | None = None,
    seeds: int | str | Sequence[int] = 0,
    windows: int | str | Sequence[int] = 0,
    n: int | None = None,
    lr: float | None = None,
    normalize: bool | None = None,
    data: str | os.PathLike[str] | None = None,
    data_sha256: str | None = None,
    out: str | os.PathLike[str] | None = None,
    weights: bool = True,
    deterministic: bool = True,
    onednn: bool | None = None,
    threads: int | None = None,
    threefry_partitionable: bool = False,
    step_timeout: float | None = None,
    echo: bool = False,
) -> RunResult:
    """``paritybench run``: train the workload's arms (``arms``: every arm when None) from one set of initial
    weights per seed and write one artifact; return its rows. ``out``: the artifact's path (never
    overwritten); by default a new temporary folder's ``run.json``, kept for ``compare``, ``report`` and
    ``localize``. ``weights``: keep the final weights beside it (``--no-weights`` when False). ``echo``:
    print the table as the command does. Other arguments are the command's options of the same names; None
    takes the workload's preset. An arm that errors while others train raises ParityError, as the command
    exits 1, after the artifact is written."""
    spec = _workload_spec(workload)
    if spec == "all":
        raise ParityError(
            "workload 'all' runs the catalogue into many artifacts: use `paritybench run --workload all`, "
            "or call run once per workload"
        )
    args = _options(
        "run",
        workload=spec,
        arms=_comma(arms, "arms"),
        steps=steps,
        seeds=_comma(seeds, "seeds"),
        windows=_comma(windows, "windows"),
        n=n,
        lr=lr,
        normalize=normalize,
        data=_path_text(data),
        data_sha256=data_sha256,
        out=_path_text(out),
        no_weights=not weights,
        no_deterministic=not deterministic,
        onednn=_onednn(onednn),
        threads=threads,
        threefry_partitionable=threefry_partitionable,
        step_timeout=step_timeout,
    )
    pool = _POOL

    def command(options: Any, console: Console) -> int:
        return cmd_run(options, console, pool)

    path, text = _call(command, "run", args, flags.NumericsOptions(deterministic, onednn, threads), out, echo)
    return _run_result(path, text)


def _call(
    command: Callable[[Any, Console], Any],
    name: str,
    args: Any,  # the command's parsed options (commands.defaults.parsed_defaults)
    numerics: flags.NumericsOptions,
    out: str | os.PathLike[str] | None,
    echo: bool,
) -> tuple[Path, str]:
    """The command's own code on ``args``: flags checked first, its output at ``out`` (or in a new temporary
    folder, removed if the command fails), what it printed captured. Returns the output's path and that text."""
    _check_flags(numerics, name)
    path, own = _output(out, name)
    args.out = str(path)
    console = _console(echo)
    with _cleanup(own, path):
        command(args, console)
    return path, console.export_text()


def read_run(artifact: str | os.PathLike[str]) -> RunResult:
    """The result of a run already written (the artifact of ``paritybench run``, or of ``run`` here), to read its
    rows or to ``localize`` from it. Its workload must load here (its name, file or module)."""
    return _run_result(Path(artifact), "")


def _run_result(path: Path, text: str) -> RunResult:
    record = read_artifact(path)
    if record.get("kind") != "run":
        raise ParityError(f"{path} is a {record.get('kind')!r} artifact, not a run's: give the artifact of a run")
    rows = tuple(
        Row(
            arm=r["arm"],
            seed=r["seed"],
            window=r["window_start"],
            status=r["status"],
            final_accuracy=r.get("final_accuracy"),
            final_loss=None if r.get("final_loss") is None else unnum(r["final_loss"]),
            reason=r.get("reason"),
        )
        for r in record["runs"]
    )
    loaded = workloads.load(record["config"]["workload"])
    return RunResult(
        artifact=path,
        workload=record["config"]["workload"],
        reference=loaded.reference,
        rows=rows,
        answer=tuple(answer_from_run(record)),
        text=text,
        record=record,
    )


def localize(
    workload: WorkloadLike | RunResult | None,
    arm: str | None = None,
    against: str | None = None,
    *,
    steps: int | None = None,
    seed: int | None = None,
    window: int | None = None,
    n: int | None = None,
    lr: float | None = None,
    normalize: bool | None = None,
    data: str | os.PathLike[str] | None = None,
    data_sha256: str | None = None,
    out: str | os.PathLike[str] | None = None,
    deterministic: bool | None = None,
    onednn: bool | None = None,
    threads: int | None = None,
    threefry_partitionable: bool | None = None,
    step_timeout: float | None = None,
    echo: bool = False,
) -> LocalizeResult:
    """``paritybench localize``: the first (step, phase, tensor) at which ``arm`` parts from ``against``
    (default: the workload's reference arm; with neither, every arm against it), measured against the float32
    noise floor at the same weights. ``workload`` may be a ``RunResult``: an argument left None is then the run's
    (its workload, steps, data and numerics, its first seed and window), else the command's default (seed 0,
    window 0, deterministic). ``out``: the record's path (default: a new temporary folder's ``localize.json``)."""
    if isinstance(workload, RunResult):
        cfg = workload.record["config"]
        numerics = cfg["numerics"]
        spec: str | None = cfg["workload"]
        seed = cfg["seeds"][0] if seed is None else seed
        window = cfg["windows"][0] if window is None else window
        steps = cfg["steps"] if steps is None else steps
        n = cfg["n"] if n is None else n
        lr = cfg["lr"] if lr is None else lr
        normalize = cfg["normalize"] if normalize is None else normalize
        data = cfg["data_path"] if data is None else data
        data_sha256 = cfg["data_sha256"] if data_sha256 is None else data_sha256
        threefry_partitionable = (
            cfg["threefry_partitionable"] if threefry_partitionable is None else threefry_partitionable
        )
        deterministic = numerics["deterministic"] if deterministic is None else deterministic
        onednn = numerics["onednn"] if onednn is None else onednn
        threads = numerics["threads"] if threads is None else threads
    else:
        spec = _workload_spec(workload)
    deterministic = True if deterministic is None else deterministic
    names = [a for a in (arm, against) if a is not None]
    if against is not None and arm is None:
        raise ParityError("localize: against= needs an arm to compare with it: localize(workload, ARM, against=...)")
    if arm is not None and against is None:  # the arm against the reference arm, as `--arms ARM` does
        names = [arm]
    args = _options(
        "localize",
        workload=spec,
        arms=",".join(names) if names else None,
        steps=steps,
        seeds=None if seed is None else str(seed),
        windows=None if window is None else str(window),
        n=n,
        lr=lr,
        normalize=normalize,
        data=_path_text(data),
        data_sha256=data_sha256,
        out=_path_text(out),
        no_deterministic=not deterministic,
        onednn=_onednn(onednn),
        threads=threads,
        threefry_partitionable=bool(threefry_partitionable),
        step_timeout=step_timeout,
    )
    path, text = _call(cmd_localize, "localize", args, flags.NumericsOptions(deterministic, onednn, threads), out, echo)
    rec = json.loads(path.read_text())
    pairs = tuple(_pair(p) for p in rec["pairs"])
    return LocalizeResult(record=path, pairs=pairs, skipped=tuple(rec["skipped"]), text=text)


def explain(
    workload: WorkloadLike,
    arm: str | None = None,
    against: str | None = None,
    *,
    steps: int | None = None,
    seed: int | None = None,
    window: int | None = None,
    n: int | None = None,
    lr: float | None = None,
    out: str | os.PathLike[str] | None = None,
    deterministic: bool = True,
    echo: bool = False,
) -> ExplainResult:
    """``paritybench explain``: for ``arm`` against ``against`` (default the workload's reference; with neither,
    every arm against it), the switches of one convention that bring the pair back under the noise floor.
    ``out``: the record's path (default: a new temporary folder's ``explain.json``)."""
    if against is not None and arm is None:
        raise ParityError("explain: against= needs an arm to compare with it: explain(workload, ARM, against=...)")
    names = [x for x in (arm, against) if x is not None]
    args = _options(
        "explain",
        workload=_workload_spec(workload),
        arms=",".join(names) if names else None,
        steps=steps,
        seeds=None if seed is None else str(seed),
        windows=None if window is None else str(window),
        n=n,
        lr=lr,
        out=_path_text(out),
        no_deterministic=not deterministic,
    )
    path, text = _call(cmd_explain, "explain", args, flags.NumericsOptions(deterministic, None, None), out, echo)
    rec = json.loads(path.read_text())
    return ExplainResult(record=path, pairs=tuple(rec["pairs"]), text=text)


# ------------------------------------------------------------------------------------------- helpers


def _pair(p: dict[str, Any]) -> PairParting:
    f = p["first"]
    first = None
    if f is not None:  # the record writes a non-finite ratio as null
        ratio = _INF if f["ratio"] is None else unnum(f["ratio"])
        first = Parting(f["step"], f["phase"], f["tensor"], ratio, f["detail"])
    return PairParting(p["a"], p["b"], first, _INF if p["max_ratio"] is None else float(p["max_ratio"]), p["line"])


_INF = float("inf")


def _options(command: str, **given: Any) -> types.SimpleNamespace:
    """The command's parsed options: the CLI's defaults, with ``given`` put in (None keeps the default)."""
    options = parsed_defaults(command)
    for key, value in given.items():
        if key not in options:  # a bug here, not the caller's: every name above is an option of the command
            raise ParityError(f"paritybench {command} has no option --{key.replace('_', '-')}: report this", 3)
        if value is not None:
            if isinstance(value, str) and not value.strip():
                raise ParityError(f"{key}={value!r} is empty: give a value, or leave {key} out for its default")
            options[key] = value
    return types.SimpleNamespace(**options)


def _workload_spec(workload: WorkloadLike | None) -> str | None:
    """The spec the command loads ``workload`` by (the Keras workers load it by the same spec)."""
    if workload is None or isinstance(workload, str):
        return workload
    if isinstance(workload, os.PathLike):
        return os.fspath(workload)
    if isinstance(workload, Workload):
        spec = workload.origin.get("spec")
        if spec is None or workloads.load(spec) != workload:
            raise ParityError(
                f"workload {workload.name}: a Workload object must be the one paritybench.workloads.load returned "
                "(its worker processes load it again from its file or module): pass path/to/workload.py or "
                "package.module:attr instead"
            )
        return str(spec)
    raise ParityError(
        f"workload {workload!r}: give a workload name, a path/to/workload.py, package.module:attr or a Workload"
    )


def _comma(value: str | int | Sequence[str] | Sequence[int] | None, name: str) -> str | None:
    """A list option as the command line gives it (``0,3``); a string is taken as written (``0-9``)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    items = [str(v) for v in value]
    if not items:
        raise ParityError(f"{name}=[] is an empty list: name at least one, or leave {name} out for its default")
    return ",".join(items)


def _path_text(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


def _onednn(value: bool | None) -> str:
    return {True: "on", False: "off", None: "default"}[value]


def _check_flags(opts: flags.NumericsOptions, what: str) -> None:
    """Refuse a call whose numerics flags cannot take effect: a framework in this process loaded with others."""
    unset = flags.not_in_effect(opts)
    if unset:
        loaded = flags.loaded_frameworks()
        raise ParityError(
            f"{what}: {', '.join(loaded)} was imported in this process before paritybench set its numerics flags, "
            f"and {', '.join(unset)} would differ from the values it loaded with, so they cannot take effect: call "
            "paritybench.api.set_flags() before importing any framework (under pytest: the ini option "
            "paritybench_set_flags = true), or run in a fresh process"
        )


def _output(out: str | os.PathLike[str] | None, what: str) -> tuple[Path, Path | None]:
    """The output's path, and the new temporary folder made for it when ``out`` is None (kept after this process:
    its name is not one the stale-folder cleanup, ``procs``, takes)."""
    if out is not None:
        return Path(out), None
    folder = Path(tempfile.mkdtemp(prefix=f"paritybench-api-{what}-"))
    return folder / f"{what}.json", folder


@contextlib.contextmanager
def _cleanup(folder: Path | None, path: Path) -> Iterator[None]:
    """A call that fails before writing ``path`` leaves no temporary folder of its own behind."""
    try:
        yield
    except BaseException:
        if folder is not None and not path.exists():
            shutil.rmtree(folder, ignore_errors=True)
        raise


def _console(echo: bool) -> Console:
    """The console the command prints to: this process's output (``echo``), else a buffer; recorded either way."""
    if echo:
        return Console(record=True)
    return Console(file=io.StringIO(), record=True, width=120)
