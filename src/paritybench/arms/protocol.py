"""The Keras worker protocol: typed messages on a channel of their own, and the worker's start-up.

A Keras worker (``arms.keras_worker``: training; ``arms.keras_inspect``: conventions and localize) runs
in a process of its own, because Keras fixes its backend at import. Parent and worker talk through two
pipes that the parent creates and the worker inherits (``Popen(pass_fds=...)``; their numbers travel in
``PARITYBENCH_CHANNEL``): one carries the parent's commands to the worker, the other the worker's
reports back. The worker's stdin is empty and its stdout and stderr go to a log file, so nothing a
user's workload prints or reads can be taken for a message, or steal one (a line starting with the old
``PB-EVENT`` prefix printed by a model's code used to hang the run).

Every message is a frozen dataclass below, written as one JSON line ``{"type": NAME, field: value, ...}``
by :func:`encode` and read back by :func:`decode`, which checks it strictly: an unknown type, an unknown
field, a missing field or a value of the wrong type is a :class:`ProtocolError` naming it, never ignored.
Bulk arrays (initial and final weights, trajectories, localize's per-step arrays) travel as ``.npz``
files whose paths the messages carry.

A training job, parent -> worker -> parent::

    TrainJob            ->
                        <-  CaseDone (one per case, as it finishes)  ...  Trained
    Evaluate            ->                      (the weight swap, once every arm has trained)
                        <-  JobDone             (the job's environment and swap results)

A serving worker (``run --workload all``) then waits for the next ``TrainJob``, until ``Stop`` or the
end of its command pipe. An inspection job: ``ConventionsJob`` -> ``ConventionsDone``, or
``LocalizeJob`` -> ``LocalizeDone``. A worker that fails sends ``Failed`` and exits with status 3.

This module imports no framework, and nothing of paritybench at load time.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import traceback
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from paritybench import procs
from paritybench.experiment import flags

CHANNEL_ENV = "PARITYBENCH_CHANNEL"  # "R,W": the worker's ends of its command and report pipes
FAILED_STATUS = 3  # the exit status of a worker that reported Failed


class ProtocolError(ValueError):
    """A message that is not one of this module's, or does not match its declaration (a bug in paritybench:
    the two ends of a channel are the same version of this module)."""


# ------------------------------------------------------------------ parts of messages (not sent alone)


@dataclass(frozen=True)
class CaseSpec:
    """One case of a training task: its id (``runner.Case.id``), window start and initial-weights file."""

    id: str
    window: int
    init_file: str


@dataclass(frozen=True)
class Task:
    """One Keras arm of one workload, trained on each of ``cases``."""

    workload: str
    arm: str
    steps: int
    lr: float
    n: int
    normalize: bool
    cases: tuple[CaseSpec, ...]
    # the workload's content as the run loaded it (``Workload.origin["sha256"]``; None where it records none):
    # the worker refuses a workload that reads otherwise when it loads it (``keras_worker.load_workload``)
    workload_sha256: str | None


@dataclass(frozen=True)
class EvaluateItem:
    """One final weight set (arm ``label``, case ``case``) to evaluate with the forward pass of ``evaluator``."""

    workload: str
    lr: float
    n: int
    normalize: bool
    window: int
    label: str
    case: str
    weights_file: str
    evaluator: str
    workload_sha256: str | None  # as ``Task.workload_sha256``


@dataclass(frozen=True)
class Edit:
    """One ``workloads.base.KerasEdit`` of the arm a job builds (its fields, as declared there)."""

    part: str
    cls: str | None
    key: str
    value: Any
    only: Any


@dataclass(frozen=True)
class SwapResult:
    """The number of samples ``evaluator``'s forward pass classifies correctly at ``label``'s final weights."""

    label: str
    case: str
    evaluator: str
    correct: int


# ------------------------------------------------------------------ parent -> worker


@dataclass(frozen=True)
class TrainJob:
    """Train every task's cases on this worker's backend (``numerics``: ``NumericsOptions.to_dict()``, which
    must be the numerics the worker was started with); files go to ``out_dir``."""

    TYPE: ClassVar[str] = "train_job"
    backend: str
    numerics: dict[str, Any]
    data_path: str | None
    data_sha256: str | None
    out_dir: str
    keep_trajectory: bool
    tasks: tuple[Task, ...]
    step_timeout: float  # seconds the user's code may take per step (``--step-timeout``; paritybench.watchdog)


@dataclass(frozen=True)
class Evaluate:
    """The weight swap, sent once every arm of the run has trained (after the worker's ``Trained``)."""

    TYPE: ClassVar[str] = "evaluate"
    items: tuple[EvaluateItem, ...]


@dataclass(frozen=True)
class ConventionsJob:
    """Read one Keras arm's effective settings from its built model and optimizer."""

    TYPE: ClassVar[str] = "conventions_job"
    workload: str
    arm: str
    lr: float


@dataclass(frozen=True)
class LocalizeJob:
    """One Keras arm's per-step arrays (``keras_inspect.localize_records``), written to ``out_dir``/arrays.npz.
    ``slices``: step k's rows ``[start, stop)`` of the window (None: the whole window); ``weights_file`` and
    ``states_file``: the given weights and model states per step (teacher forcing; None: its own trajectory);
    ``holdout_file``: the held-out window's inputs (.npy) for a stateful model's evaluation phase; ``edits``: the
    arm's ``keras_edits``, applied to the declared arm ``arm`` (explain's switched Keras arm)."""

    TYPE: ClassVar[str] = "localize_job"
    workload: str
    arm: str
    lr: float
    steps: int
    window: int
    n: int
    normalize: bool
    data_path: str | None
    data_sha256: str | None
    init_file: str
    out_dir: str
    slices: tuple[tuple[int, int], ...] | None
    holdout_file: str | None
    weights_file: str | None
    states_file: str | None
    # the arm's Arm.keras_edits (explain's switched Keras arm: the declared arm ``arm`` with these edits)
    edits: tuple[Edit, ...] = ()


@dataclass(frozen=True)
class Stop:
    """A serving worker's end: exit 0 (so does the end of the command pipe)."""

    TYPE: ClassVar[str] = "stop"


# ------------------------------------------------------------------ worker -> parent


@dataclass(frozen=True)
class CaseDone:
    """One trained case: its curves and info (``ArmResult``), final weights (and, when asked, the weights
    after every step, ``traj_file``) and, for a stateful model, the state after every step."""

    TYPE: ClassVar[str] = "case_done"
    arm: str
    id: str
    curves: dict[str, Any]
    info: dict[str, Any]
    final_file: str
    traj_file: str | None
    state: dict[str, Any] | None


@dataclass(frozen=True)
class Trained:
    """Every case of the job is trained; the worker waits for ``Evaluate``."""

    TYPE: ClassVar[str] = "trained"


@dataclass(frozen=True)
class JobDone:
    """The job's result: the worker's environment (versions, numerics read-back, conventions) and the swap."""

    TYPE: ClassVar[str] = "job_done"
    environment: dict[str, Any]
    swap: tuple[SwapResult, ...]


@dataclass(frozen=True)
class ConventionsDone:
    TYPE: ClassVar[str] = "conventions_done"
    rows: dict[str, Any]


@dataclass(frozen=True)
class LocalizeDone:
    TYPE: ClassVar[str] = "localize_done"
    arrays_file: str


@dataclass(frozen=True)
class Failed:
    """The worker's exception (``error``: its type's name); the worker then exits with ``FAILED_STATUS``."""

    TYPE: ClassVar[str] = "failed"
    error: str
    message: str


Message = (
    TrainJob
    | Evaluate
    | ConventionsJob
    | LocalizeJob
    | Stop
    | CaseDone
    | Trained
    | JobDone
    | ConventionsDone
    | LocalizeDone
    | Failed
)
MESSAGES: dict[str, type] = {cls.TYPE: cls for cls in typing.get_args(Message)}


# ------------------------------------------------------------------ encoder / decoder


def encode(msg) -> str:
    """``msg`` as one JSON line (no newline). Floats that are not finite (a NaN loss) are written as JSON's
    ``NaN`` extension, which :func:`decode` reads back: both ends are Python's json."""
    cls = type(msg)
    if MESSAGES.get(str(getattr(cls, "TYPE", ""))) is not cls:
        raise ProtocolError(f"{cls.__name__} is not a worker protocol message")
    # dataclasses.asdict recurses into the nested dataclasses; tuples are written as JSON arrays
    return json.dumps({"type": cls.TYPE, **dataclasses.asdict(msg)})


def decode(line: str):
    """The message one line holds, checked against its declaration (``ProtocolError`` naming what is wrong)."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        raise ProtocolError(f"not a JSON message: {exc}: {line[:200]!r}") from None
    if not isinstance(obj, dict):
        raise ProtocolError(f"a message is a JSON object, not {type(obj).__name__}: {line[:200]!r}")
    name = obj.pop("type", None)
    if name not in MESSAGES:
        raise ProtocolError(f"unknown message type {name!r}; known: {', '.join(sorted(MESSAGES))}")
    return _build(MESSAGES[name], obj, name)


def _build(cls: type, obj: dict, where: str):
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(obj) - set(names))
    if unknown:
        has = ", ".join(names) or "no fields"
        raise ProtocolError(f"{where}: unknown field(s) {', '.join(unknown)}; {cls.__name__} has {has}")
    missing = [n for n in names if n not in obj]
    if missing:
        raise ProtocolError(f"{where}: missing field(s) {', '.join(missing)}")
    return cls(**{n: _check(obj[n], hints[n], f"{where}.{n}") for n in names})


def _check(value, tp, where: str):
    """``value`` as type ``tp`` (nested dataclasses built, JSON arrays as tuples), or ProtocolError."""
    if tp is Any:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            return _check(value, rest[0], where)
        raise ProtocolError(f"{where}: unions other than X | None are not part of the protocol")  # pragma: no cover
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected a {tp.__name__} object, got {_name(value)}")
        return _build(tp, value, where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ProtocolError(f"{where}: expected an array, got {_name(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_check(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ProtocolError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_check(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise ProtocolError(f"{where}: expected an object, got {_name(value)}")
        return {k: _check(v, args[1], f"{where}.{k}") for k, v in value.items()} if args else value
    # bool is an int in Python: a JSON true is never an integer field, and 1 is never a bool field
    ok = {
        str: lambda v: isinstance(v, str),
        bool: lambda v: isinstance(v, bool),
        int: lambda v: isinstance(v, int) and not isinstance(v, bool),
        float: lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    }.get(tp)
    if ok is None:  # pragma: no cover - a declaration above uses a type this checker does not know
        raise ProtocolError(f"{where}: type {tp!r} is not part of the protocol")
    if not ok(value):
        raise ProtocolError(f"{where}: expected {tp.__name__}, got {_name(value)}")
    return value


def _name(value) -> str:
    return "null" if value is None else f"{type(value).__name__} {value!r:.80}"


# ------------------------------------------------------------------ the channel


class Channel:
    """One end of a worker's channel: messages written to one pipe, read from the other."""

    def __init__(self, read_fd: int, write_fd: int):
        self._in = os.fdopen(read_fd, "r", encoding="utf-8")
        self._out = os.fdopen(write_fd, "w", encoding="utf-8")

    def send(self, msg) -> None:
        self._out.write(encode(msg) + "\n")
        self._out.flush()

    def receive(self):
        """The next message, or None at the end of the pipe (the other end closed or died)."""
        line = self._in.readline()
        return decode(line) if line else None

    def close(self) -> None:
        for f in (self._out, self._in):
            try:
                f.close()
            except OSError:
                pass


def worker_channel() -> Channel:
    """In a worker: its channel, from the descriptors the parent passed. They are made non-inheritable again
    (``pass_fds`` made them inheritable), so a program a user's code starts holds no end of them."""
    spec = os.environ.pop(CHANNEL_ENV, None)
    if not spec:
        raise RuntimeError(f"{CHANNEL_ENV} is not set: a worker is started by paritybench.arms.worker_process.start")
    r, w = (int(x) for x in spec.split(","))
    for fd in (r, w):
        os.set_inheritable(fd, False)
    return Channel(r, w)


# ------------------------------------------------------------------ the worker's start-up


def worker_argv(backend: str, numerics: dict, serve: bool) -> list[str]:
    """The worker's arguments (after ``-m MODULE``): ``[--serve] BACKEND NUMERICS_JSON``."""
    return [*(["--serve"] if serve else []), backend, json.dumps(numerics, sort_keys=True)]


def worker_main(serve: Callable[..., int]) -> None:
    """A worker module's ``__main__``: the one start-up of every Keras worker process.

    In order: die with the parent (``PR_SET_PDEATHSIG``; a killed parent's temporary folder removed), open
    the channel, put the numerics flags and ``KERAS_BACKEND`` into the environment before any framework is
    imported, then ``serve(channel, backend, numerics, serving)`` and exit with its status. An exception is
    printed to the worker's log and reported as ``Failed``; the worker then exits with ``FAILED_STATUS``."""
    procs.die_with_parent()
    argv = sys.argv[1:]
    serving = bool(argv) and argv[0] == "--serve"
    backend, numerics_json = argv[1:] if serving else argv
    channel = worker_channel()
    try:
        numerics = json.loads(numerics_json)
        os.environ.update(flags.env_for(flags.NumericsOptions(**numerics)))
        os.environ["KERAS_BACKEND"] = backend
        rc = serve(channel, backend, numerics, serving)
    except Exception as exc:  # the parent records this as the arm's error
        traceback.print_exc()
        try:
            channel.send(Failed(type(exc).__name__, str(exc)))
        except OSError:  # the parent is gone
            pass
        rc = FAILED_STATUS
    sys.stdout.flush()
    sys.exit(rc)


__all__ = [
    "CHANNEL_ENV",
    "FAILED_STATUS",
    "ProtocolError",
    "CaseSpec",
    "Task",
    "EvaluateItem",
    "SwapResult",
    "TrainJob",
    "Evaluate",
    "ConventionsJob",
    "LocalizeJob",
    "Stop",
    "CaseDone",
    "Trained",
    "JobDone",
    "ConventionsDone",
    "LocalizeDone",
    "Failed",
    "Message",
    "MESSAGES",
    "Channel",
    "encode",
    "decode",
    "worker_channel",
    "worker_argv",
    "worker_main",
]
