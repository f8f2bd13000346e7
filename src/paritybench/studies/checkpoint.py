"""The sweep's checkpoint, and everything that makes ``sweep --resume`` safe.

A sweep appends every finished run to ``<artifact>.partial.jsonl``: line 1 is a
header (the config, and the sha256 of the data actually trained on), then one
JSON line per run. What this module promises about that file:

* A kill (or a full disk) can cut only the last line. An append writes the whole
  line in one ``os.write`` and fsyncs it; a write that fails part-way is cut back
  to the previous line at once; a cut left by a kill is removed (and said so)
  before the next append, so no run is ever glued onto half a line.
* A damaged line anywhere (not JSON, not a run record, not a run of this sweep)
  is dropped and that run trained again; it never costs the lines around it.
* A header that paritybench did not write (a hand edit) is one error naming the
  line and the fix, never a traceback.
* ``--resume`` refuses options that contradict the header, and data whose sha256
  is not the one the header recorded.
* One writer at a time: the whole sweep holds an exclusive ``flock`` on
  ``<artifact>.lock``; a second paritybench is refused with the first one's pid.
  The kernel drops the lock when the holder dies, however it dies.
* Runs whose status is ``error`` (a worker that died) are kept in the checkpoint
  and in the artifact, printed, make the exit status 1, and ``--resume`` trains
  them again; ``ok`` and ``skipped`` runs are never trained twice.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from paritybench import workloads
from paritybench.artifact import atomic_write_bytes, schema, write_artifact
from paritybench.artifact.formats import FORMAT_FIELD, SWEEP_CHECKPOINT, check_format
from paritybench.artifact.records import RunKey
from paritybench.artifact.safeout import flock_nonblocking, lock_path
from paritybench.errors import ParityError
from paritybench.experiment import data, flags
from paritybench.experiment.config import MAX_LIST_VALUES, RunConfig, too_large
from paritybench.experiment.flags import NumericsOptions

CHECKPOINT_SUFFIX = ".partial.jsonl"


def checkpoint_path(artifact: Path) -> Path:
    return artifact.with_name(artifact.name + CHECKPOINT_SUFFIX)


def _no_constants(name: str):
    # json.loads would turn NaN/Infinity into floats; paritybench never writes them (allow_nan=False).
    raise ValueError(f"{name} is not JSON")


def _loads(line: str) -> Any:
    return json.loads(line, parse_constant=_no_constants)


# ---------------------------------------------------------------------------------------------
# validation of what a checkpoint holds


def _header_schema() -> dict:
    ints = {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_LIST_VALUES,
        "items": {"type": "integer", "minimum": 0},  # the cap: config.too_large, in header_problem
    }
    nullable_str = {"type": ["string", "null"]}
    config = {
        "type": "object",
        "required": [
            "seeds",
            "windows",
            "n",
            "steps",
            "lr",
            "normalize",
            "arms",
            "threefry_partitionable",
            "data_path",
            "data_sha256",
            "numerics",
            "swap",
            "diagnostics",
        ],
        "properties": {
            "seeds": ints,
            "windows": ints,
            "n": {"type": "integer", "minimum": 1},
            "steps": {"type": "integer", "minimum": 1},
            "lr": {"type": "number", "exclusiveMinimum": 0},
            "normalize": {"type": "boolean"},
            "threefry_partitionable": {"type": "boolean"},
            "arms": {"type": "array", "minItems": 1, "items": {"type": "string"}},
            "workload": {"type": "string", "minLength": 1},
            "data_path": nullable_str,
            "data_sha256": nullable_str,
            "numerics": {
                "type": "object",
                "required": ["deterministic", "onednn", "threads"],
                "additionalProperties": False,
                "properties": {
                    "deterministic": {"type": "boolean"},
                    "onednn": {"type": ["boolean", "null"]},
                    "threads": {"type": ["integer", "null"], "minimum": 1},
                },
            },
            "swap": {"type": "boolean"},
            "diagnostics": {"enum": ["light", "full"]},
        },
    }
    return {
        "type": "object",
        "required": ["config", "command"],
        "properties": {
            "command": {"const": "sweep"},
            "config": config,
            "workload_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "data": {
                "type": "object",
                "required": ["sha256"],
                "properties": {"path": {"type": "string"}, "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
            },
        },
    }


def _first_schema_error(schema: dict, instance: Any) -> str | None:
    """The most relevant violation as ``where: what`` (None when valid), kept to one short line."""
    import jsonschema  # late: jsonschema (a slow import): loaded only where an artifact is validated

    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(instance))
    if err is None:
        return None
    where = ".".join(str(p) for p in err.absolute_path) or "(top level)"
    msg = err.message if len(err.message) <= 120 else err.message[:117] + "..."
    return f"{where}: {msg}"


def header_problem(header: Any) -> str | None:
    """Why ``header`` is not one paritybench wrote (None when it is)."""
    problem = _first_schema_error(_header_schema(), header)
    if problem:
        return problem
    unknown = sorted(set(header["config"]) - {f.name for f in fields(RunConfig)})
    if unknown:
        return f"config: unknown key {unknown[0]!r}"
    # the command line's cap: JAX keeps 32 bits of a seed when x64 is off, so a header edited to seed 2**40
    # would train seed 0's weights under another seed's name
    for what in ("seeds", "windows"):
        problem = too_large(max(header["config"][what]), f"config.{what}")
        if problem:
            return problem

    try:  # the sweep's numerics flags before its workload's module is loaded (it may import a framework)
        flags.apply(flags.NumericsOptions(**header["config"]["numerics"]))
    except TypeError as exc:
        return f"config.numerics: {exc}"
    try:  # a checkpoint from before workloads is the seed workload's
        workload = workloads.load(header["config"].get("workload"))
    except ParityError as exc:
        return f"config.workload: {exc}"
    bad = [(i, a) for i, a in enumerate(header["config"]["arms"]) if a not in workload.arm_names]
    if bad:
        return f"config.arms.{bad[0][0]}: {bad[0][1]!r} is not an arm of workload {workload.name}"
    return None


def config_from_header(header: dict):
    """The ``RunConfig`` a (validated) header describes."""
    c = dict(header["config"])
    c["numerics"] = NumericsOptions(**c["numerics"])
    for k in ("seeds", "windows", "arms"):
        c[k] = tuple(c[k])
    return RunConfig(**c)


_RUN_SCHEMA: dict | None = None


def _run_schema() -> dict:
    """The artifact schema's run record: a checkpoint line must be a run the artifact can hold."""
    global _RUN_SCHEMA
    if _RUN_SCHEMA is None:
        _RUN_SCHEMA = {"$defs": schema()["$defs"], "$ref": "#/$defs/run"}
    return _RUN_SCHEMA


def run_problem(run: Any, cfg) -> str | None:
    """Why a checkpoint line is not a finished run of the sweep ``cfg`` (None when it is)."""
    if isinstance(run, dict) and isinstance(run.get("node"), dict):
        # a checkpoint line carries its node's full record; the artifact keeps only its id (studies.nodes)
        run = {k: v for k, v in run.items() if k != "node"}
    problem = _first_schema_error(_run_schema(), run)
    if problem:
        return problem
    key = RunKey.of(run)
    if key.arm not in cfg.arms or key.seed not in cfg.seeds or key.window not in cfg.windows:
        return f"run {key.arm} seed {key.seed} window {key.window} is not part of this sweep"
    if key.copy is not None or run.get("n", cfg.n) != cfg.n:
        return "run is not part of this sweep (copy or n differ)"
    metric = "final_loss" if run.get("metric") == "loss" else "final_accuracy"  # a head without classes: the loss
    if run["status"] == "ok" and (run[metric] is None or run["final_weights_sha256"] is None):
        return f"an ok run without its {metric.replace('_', ' ')} or weights hash"
    return None


# ---------------------------------------------------------------------------------------------
# the file


@dataclass
class Loaded:
    """A checkpoint as read for a resume."""

    header: dict
    runs: list[dict]  # the last valid record of each run, in file order
    dropped: list[tuple[int, str]] = field(default_factory=list)  # (line number, why) of lines not used
    cut_tail: bool = False  # the last line has no newline: a write cut by a kill or a full disk


def _split(path: Path) -> tuple[list[str], bool]:
    """Complete lines of ``path`` and whether a cut (unterminated) last line followed them."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as exc:
        raise ParityError(f"cannot read checkpoint {path} ({exc.strerror}): check its permissions") from None
    lines = text.split("\n")
    cut = lines.pop() != ""  # text after the last newline was never finished
    return lines, cut


def _header_of(path: Path, lines: list[str], cut: bool) -> dict:
    if not lines:
        if cut:
            raise ParityError(
                f"checkpoint {path} line 1: the header was cut while it was written, before any "
                f"run finished: delete {path} and start the sweep again"
            )
        raise ParityError(f"checkpoint {path} is empty: delete it and start the sweep again")
    try:
        obj = _loads(lines[0])
    except ValueError:
        raise ParityError(
            f"checkpoint {path} line 1 (the header) is not valid JSON: undo the edit, or delete "
            f"{path} and start the sweep again"
        ) from None
    if not isinstance(obj, dict) or "header" not in obj:
        raise ParityError(
            f"{path} is not a paritybench checkpoint (line 1 has no header): pass the sweep's artifact path to --resume"
        )
    check_format(obj, SWEEP_CHECKPOINT, "checkpoint", path)
    return obj["header"]


class Checkpoint:
    """Append-only JSON lines: a header with the config, then one finished run per line."""

    def __init__(self, path: Path, header: dict | None = None):
        self.path = Path(path)
        self._fd: int | None = None
        if header is not None:
            self._create(header)

    def _create(self, header: dict) -> None:
        """Write the header line atomically: the file appears complete or not at all."""
        try:
            line = json.dumps({FORMAT_FIELD: SWEEP_CHECKPOINT, "header": header}, allow_nan=False) + "\n"
        except ValueError:
            raise ParityError(
                "the sweep's configuration holds a number that is not finite (inf or nan): give finite values"
            ) from None
        if self.path.exists():
            raise ParityError(f"{self.path} exists: resume it with --resume, or delete it")
        try:
            atomic_write_bytes(self.path, line.encode())
        except OSError as exc:
            raise ParityError(
                f"cannot create checkpoint {self.path} ({exc.strerror}): choose an --out in a "
                "writable folder with free space"
            ) from None

    def append(self, run: dict) -> None:
        """Add one finished run: the whole line in one write, fsynced; on failure, cut back and refuse."""
        data = (json.dumps(run, allow_nan=False) + "\n").encode()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
            before = os.fstat(self._fd).st_size
        except OSError as exc:
            raise ParityError(
                f"cannot append to checkpoint {self.path} ({exc.strerror}): every run before "
                "this one is kept; fix that and finish with `paritybench sweep --resume`",
                exit_code=1,
            ) from None
        try:
            written = os.write(self._fd, data)
            if written != len(data):  # a regular file writes short only when the disk is full
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            os.fsync(self._fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, before)  # never leave half a line for the next append to glue onto
            artifact = self.path.name.removesuffix(CHECKPOINT_SUFFIX)
            raise ParityError(
                f"cannot append to checkpoint {self.path} ({exc.strerror}): every run before this "
                f"one is kept; free space and finish with `paritybench sweep --resume "
                f"{self.path.with_name(artifact)}`",
                exit_code=1,
            ) from None

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def drop_cut_tail(self) -> int:
        """Remove an unterminated last line (a write cut by a kill or a full disk); its size in bytes."""
        with open(self.path, "rb+") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size == 0:
                return 0
            fh.seek(max(0, size - (1 << 20)))
            tail = fh.read()
            if tail.endswith(b"\n"):
                return 0
            keep = size - len(tail) + tail.rfind(b"\n") + 1
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())
            return size - keep

    @staticmethod
    def read(path: Path) -> tuple[dict, list[dict]]:
        """The header and every run line that parses as a JSON object (the lenient view, for inspection)."""
        path = Path(path)
        if not path.is_file():
            raise ParityError(f"no checkpoint {path} to resume from: start the sweep again without --resume")
        lines, cut = _split(path)
        header = _header_of(path, lines, cut)
        runs = []
        for line in lines[1:]:
            try:
                obj = _loads(line)
            except ValueError:
                continue
            if isinstance(obj, dict):
                runs.append(obj)
        return header, runs

    @staticmethod
    def load(path: Path) -> Loaded:
        """Read for a resume: a validated header, then the valid runs; damaged lines are listed, not fatal."""
        path = Path(path)
        if not path.is_file():
            raise ParityError(f"no checkpoint {path} to resume from: start the sweep again without --resume")
        lines, cut = _split(path)
        header = _header_of(path, lines, cut)
        problem = header_problem(header)
        if problem:
            raise ParityError(
                f"checkpoint {path} line 1: the header is not as paritybench wrote it ({problem}): "
                f"undo the edit, or delete {path} and start the sweep again"
            )
        cfg = config_from_header(header)
        by_key: dict[RunKey, dict] = {}
        dropped: list[tuple[int, str]] = []
        for i, line in enumerate(lines[1:], start=2):
            if not line.strip():
                continue
            try:
                obj = _loads(line)
            except ValueError:
                dropped.append((i, "not valid JSON"))
                continue
            why = run_problem(obj, cfg)
            if why:
                dropped.append((i, why))
                continue
            key = RunKey.of(obj)  # a sweep's runs have no copy (run_problem)
            by_key.pop(key, None)  # a retried run replaces the earlier record and moves to its place
            by_key[key] = obj
        if cut:
            dropped.append((len(lines) + 1, "cut while it was written"))
        return Loaded(header=header, runs=list(by_key.values()), dropped=dropped, cut_tail=cut)


# ---------------------------------------------------------------------------------------------
# one writer at a time


class SweepLock:
    """An exclusive, non-blocking ``flock`` on ``<artifact>.lock`` for the whole sweep (``safeout``'s one lock).

    The file holds the holder's pid for the refusal message. The holder removes it on a
    clean exit; a killed holder leaves it, unlocked (the kernel releases a flock with its
    last open descriptor), and the next sweep takes it over.
    """

    def __init__(self, artifact: Path):
        self.artifact = Path(artifact)
        self.path = lock_path(self.artifact)
        self._fd: int | None = None

    def acquire(self) -> SweepLock:
        try:
            fd = flock_nonblocking(self.path)
        except OSError as exc:
            raise ParityError(
                f"cannot create {self.path} ({exc.strerror}): the sweep's folder must be writable; choose another --out"
            ) from None
        if fd is None:
            try:
                pid = self.path.read_text(errors="replace")[:32].strip() or "unknown"
            except OSError:  # the holder finished and removed it since
                pid = "unknown"
            raise ParityError(
                f"another paritybench is writing {self.artifact} (pid {pid}): wait for it to "
                "finish, or stop that process first"
            )
        with contextlib.suppress(OSError):  # best effort: a full disk still gets the lock, without the pid
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # while still locked, so no one can lock the file we remove
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> SweepLock:
        if self._fd is None:
            self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


# ---------------------------------------------------------------------------------------------
# starting and finishing a sweep


@dataclass
class Sweep:
    """A checked, locked sweep ready to train: what ``cmd_sweep`` needs."""

    cfg: Any
    out: Path
    checkpoint: Checkpoint
    lock: SweepLock
    done: list[dict]  # runs from the checkpoint (ok, skipped and error)
    header: dict = field(default_factory=dict)  # the checkpoint's header (its shard, for a shard of a sweep)

    @property
    def skip(self) -> set:
        """Runs not to train again: everything finished except the ones that failed."""
        return {RunKey.of(r) for r in self.done if r["status"] != "error"}


def precheck_inputs(cfg) -> dict:
    """Everything the runner will refuse, checked now: seeds, data (hashed) and every window."""
    problem = too_large(max(cfg.seeds), "--seeds")
    if problem:
        raise ParityError(problem)
    workload = workloads.load(cfg.workload)
    ds = workloads.load_data(workload, cfg.data_path, cfg.data_sha256)
    for w in cfg.windows:
        data.window(ds, w, cfg.n, cfg.normalize, labels=workload.data.labels)
    return {"path": ds.path, "sha256": ds.sha256}


def _locked(out: Path, then: Callable[[SweepLock], Sweep]) -> Sweep:
    lock = SweepLock(out).acquire()
    try:
        return then(lock)
    except BaseException:
        lock.release()
        raise


def write_result(sweep: Sweep, artifact: dict) -> None:
    """Write the artifact; a failure keeps the checkpoint (every run) for ``--resume``."""
    try:
        write_artifact(sweep.out, artifact)
    except OSError as exc:
        raise ParityError(
            f"cannot write {sweep.out} ({exc.strerror}): every run is kept in "
            f"{sweep.checkpoint.path}; fix that and finish with `paritybench sweep --resume "
            f"{sweep.out}`",
            exit_code=1,
        ) from None


def finish_sweep(sweep: Sweep, artifact: dict, console) -> int:
    """Remove the checkpoint when every run finished; otherwise print the failures and exit 1.

    Failed runs are recorded in the artifact (status ``error`` with the reason), and
    the checkpoint stays beside it, so ``--resume`` trains them again and rewrites
    the artifact.
    """
    sweep.checkpoint.close()
    failed: dict[str, list[dict]] = {}
    for r in artifact["runs"]:
        if r["status"] == "error":
            failed.setdefault(r["arm"], []).append(r)
    if not failed:
        sweep.checkpoint.path.unlink()
        console.print(f"artifact: {sweep.out}", soft_wrap=True)
        return 0
    per_arm = {a: sum(r["arm"] == a for r in artifact["runs"]) for a in failed}
    for arm, rs in failed.items():
        reasons = "; ".join(dict.fromkeys(r.get("reason", "error") for r in rs))
        print(f"paritybench: {arm}: {len(rs)} of {per_arm[arm]} runs failed: {reasons}", file=sys.stderr)
    console.print(
        f"artifact: {sweep.out} (records the failed runs; {sweep.checkpoint.path} is kept to retry them)",
        soft_wrap=True,
    )
    n = sum(len(rs) for rs in failed.values())
    raise ParityError(
        f"{n} run{'s' if n > 1 else ''} failed ({', '.join(failed)}): retry "
        f"{'them' if n > 1 else 'it'} with `paritybench sweep --resume {sweep.out}`",
        exit_code=1,
    )


__all__ = [
    "CHECKPOINT_SUFFIX",
    "Checkpoint",
    "Loaded",
    "Sweep",
    "SweepLock",
    "checkpoint_path",
    "finish_sweep",
    "lock_path",
    "write_result",
]
