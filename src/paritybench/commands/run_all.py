"""``paritybench run --workload all``: every built-in workload's preset in one invocation.

One artifact per workload (``<folder>/<workload>.json`` and its weights) plus an index
(``<folder>/index.json``: paths, workload names, questions, status, seconds). Every output
location is checked and claimed before any training (``artifact.safeout``), as ``run`` does for
one artifact, so a catalogue run never dies at workload seven on an unwritable folder.

The workloads run one after another through ``runner.run`` in this process. Their Keras arms go
to ONE serving worker per backend (``pipeline.worker_pool.KerasPool``), which imports its backend
once and takes every workload's job in turn (clearing the Keras session and re-seeding between
jobs), instead of three fresh workers per workload each spending ~20 s importing. A worker that
dies during a workload makes that workload's unfinished Keras runs ``error``, and the next
workload gets a fresh worker. A workload that raises is recorded in the index as ``error`` with
its one-line reason and the others still run.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from pathlib import Path

from paritybench import workloads
from paritybench.artifact import safeout
from paritybench.artifact.index import index_record
from paritybench.artifact.safeout import commit_pair
from paritybench.commands.common import DEFAULT_RESULTS, RichProgress, config_from, nothing_trained
from paritybench.errors import ParityError
from paritybench.experiment import flags
from paritybench.experiment.weights import weights_group, write_weights_npz
from paritybench.pipeline import budget, runner
from paritybench.pipeline.worker_pool import KerasPool
from paritybench.workloads.registry import BUILTIN

ALL = "all"


def catalogue_names() -> list[str]:
    """The built-in workloads, in the registry's order (what ``--workload all`` runs)."""
    return list(BUILTIN)


def default_folder() -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return DEFAULT_RESULTS / f"all-{stamp}"


def _plan(args, names: list[str], cfgs: dict) -> tuple[Path, dict[str, Path], Path]:
    """Check every file the catalogue will write, free disk for all of them together included;
    return (folder, artifact per workload, index)."""
    folder = Path(args.out) if args.out else default_folder()
    if folder.suffix == ".json":
        raise ParityError(
            f"--out {folder}: with --workload all, --out is a folder (one artifact per workload "
            "and index.json go in it); give a folder path"
        )
    if folder.exists() and not folder.is_dir():
        raise ParityError(f"--out {folder} is a file: with --workload all, give a folder")
    weights = not args.no_weights
    outs = {}
    need = {
        n: budget.artifact_json_bytes(c) + (budget.weights_file_bytes(c) if weights else 0) for n, c in cfgs.items()
    }
    for name in names:
        path = folder / f"{name}.json"
        outs[name] = safeout.plan_outputs(
            path, extra=(path.with_suffix(".weights.npz"),) if weights else (), expected_bytes=need[name]
        )
    index = safeout.plan_outputs(folder / "index.json")
    # one file system for all of them: five workloads trained, then "No space left" on the sixth
    safeout.plan_folder(folder, expected_bytes=sum(need.values()) + 65536, what=f"--out {folder} (every workload)")
    return folder, outs, index


def _status(artifact: dict) -> str:
    statuses = {r["status"] for r in artifact["runs"]}
    if statuses == {"ok"}:
        return "ok"
    if "error" in statuses:
        return "error"
    if "ok" in statuses:
        return "partial"  # some arms skipped (a missing framework, no GPU), the rest ran
    return "skipped"


def cmd_run_all(args, console) -> int:
    """Run every built-in workload's preset; exit 1 if any workload's run errored."""
    if args.arms is not None:
        raise ParityError(
            "--arms with --workload all: arm names differ per workload; run one workload "
            "(--workload NAME --arms ...) or leave --arms out"
        )
    if getattr(args, "repeat", 1) != 1:
        raise ParityError("--repeat with --workload all is not supported: repeat one workload at a time")
    names = catalogue_names()
    cfgs = {}
    for name in names:
        sub = copy.copy(args)
        sub.workload = name
        cfgs[name] = config_from(sub)
        budget.check_run(cfgs[name])
    folder, outs, index_path = _plan(args, names, cfgs)
    claims = {}
    try:
        for name in names:
            claims[name] = safeout.OutputClaim.explicit(outs[name])
        index_claim = safeout.OutputClaim.explicit(index_path)
    except BaseException:
        for c in claims.values():
            c.release(committed=False)
        raise
    entries = []
    t0 = time.perf_counter()

    try:
        with KerasPool() as pool:  # its workers are stopped and its folder removed on any way out
            for name in names:
                entries.append(_one_entry(args, console, name, cfgs[name], outs[name], claims[name], pool))
        total = time.perf_counter() - t0
        index = index_record(dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), round(total, 2), entries)

        commit_pair(index_path, index, validate=False)  # an index, not an artifact: no artifact schema
    finally:
        index_claim.release(committed=index_path.exists())
    console.print(f"{'workload':<20} {'status':<8} {'seconds':>8}")
    for e in entries:
        console.print(f"{e['workload']:<20} {e['status']:<8} {e['seconds']:>8.1f}")
    console.print(f"total {total:.1f} s; index: {index_path}")
    return 1 if any(e["status"] == "error" for e in entries) else 0


def _one_entry(args, console, name: str, cfg, out: Path, claim, pool) -> dict:
    """Run one workload into its claimed artifact; its index entry (status, arms, seconds, reason)."""
    console.print(f"[bold]{name}[/bold]: {cfg.steps} steps, n {cfg.n}, lr {cfg.lr}")
    t = time.perf_counter()
    entry = {"workload": name, "path": out.name, "question": None}
    try:
        entry["question"] = workloads.load(name).question
        artifact = _run_one(args, console, cfg, out, pool)
        entry.update(status=_status(artifact), arms={r["arm"]: r["status"] for r in artifact["runs"]})
    except ParityError as exc:
        entry.update(status="error", reason=str(exc))
        console.print(f"{name}: error: {exc}")
    except Exception as exc:  # one workload's crash is its entry, not the catalogue's end
        entry.update(status="error", reason=f"{type(exc).__name__}: {exc}")
        console.print(f"{name}: error: {type(exc).__name__}: {exc}")
    finally:
        claim.release(committed=out.exists())
    entry["seconds"] = round(time.perf_counter() - t, 2)
    return entry


def _run_one(args, console, cfg, out: Path, pool=None) -> dict:
    """One workload: train, commit its artifact (and weights) atomically; return the artifact."""
    applied = flags.apply(cfg.numerics)
    prog = RichProgress(console)
    try:
        result = runner.run(cfg, prog, pool=pool)
    finally:
        prog.stop()
    failure = nothing_trained(result.runs)
    if failure:  # this workload's entry is an error with the reason, and it has no artifact
        raise failure
    result.environment["warnings"] = flags.collect_warnings(result.environment, applied)
    weights_path = out.with_suffix(".weights.npz")
    keep = bool(result.finals) and not args.no_weights
    writer = None
    if keep:
        groups = {weights_group(key): v for key, v in result.finals.items()}
        writer = lambda fh: write_weights_npz(fh, groups)  # noqa: E731
    artifact = runner.build_artifact(cfg, result, "run", weights_path.name if keep else None)
    commit_pair(out, artifact, writer, weights_path)
    return artifact


__all__ = ["ALL", "cmd_run_all", "catalogue_names"]
