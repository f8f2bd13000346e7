"""``paritybench sweep`` and ``paritybench sensitivity``: many runs into one artifact.

A sweep trains every arm over a seed x window grid. It checkpoints every
finished run to ``<artifact>.partial.jsonl`` (one JSON line each, flushed and
fsynced), so an interrupted sweep loses nothing: ``--resume <artifact>`` reads
the checkpoint, trains only what is missing and writes the same artifact an
uninterrupted sweep would have written.

A sensitivity study trains each arm from K copies of one seed's initial
weights, each perturbed by a relative ``--rel`` (default 1e-7, about one
float32 ulp), and classes each arm ``stable`` or ``chaotic``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from rich.table import Table

from paritybench import workloads
from paritybench.analysis import stats
from paritybench.artifact import safeout, unnum, write_artifact
from paritybench.commands import Command
from paritybench.commands.common import (
    DEFAULT_RESULTS,
    RichProgress,
    add_experiment_args,
    check_out,
    config_from,
    default_out,
)
from paritybench.errors import ParityError
from paritybench.experiment import data, flags
from paritybench.experiment.weights import copy_weights, weights_sha256
from paritybench.pipeline import budget, runner
from paritybench.pipeline.shapes import precheck
from paritybench.studies import engines, grid, shard
from paritybench.studies.checkpoint import (
    CHECKPOINT_SUFFIX,
    Checkpoint,
    Sweep,
    SweepLock,
    _locked,
    checkpoint_path,
    config_from_header,
    finish_sweep,
    header_problem,
    precheck_inputs,
    write_result,
)


class SweepCommand(Command):
    """``paritybench sweep``."""

    name = "sweep"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        add_experiment_args(p, seeds_default="0-9", windows_default="0:10000:1000")
        p.add_argument(
            "--diagnostics",
            choices=("light", "full"),
            default="light",
            help="full adds per-step gradient agreement with the f64 reference (slow); default %(default)s",
        )
        p.add_argument(
            "--resume",
            metavar="ARTIFACT",
            default=None,
            help="finish an interrupted sweep: the artifact path it was writing",
        )

        add_sweep_args(p)  # --shard, --engine, --address
        track_explicit_options(p)  # --resume refuses typed options that contradict the checkpoint
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_sweep(args, console)


class SensitivityCommand(Command):
    """``paritybench sensitivity``."""

    name = "sensitivity"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        add_experiment_args(p)
        p.add_argument("--k", type=int, default=32, help="perturbed copies (default %(default)s)")
        p.add_argument("--rel", type=float, default=1e-7, help="relative perturbation (default %(default)s)")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_sensitivity(args, console)


def cmd_sweep(args, console) -> int:
    check_args(args)
    # Inputs, output folder, lock, then the checkpoint (created, or reopened and checked for --resume);
    # the lock is held until the sweep ends.
    # Ray is started or joined after every check and before the checkpoint is written
    sweep = start_sweep(args, console, before_write=lambda: engines.connect(args.engine, args.address))
    with sweep.lock:
        return _run_sweep(args, sweep, console)


def _run_sweep(args, sweep, console) -> int:
    cfg, ckpt, done, out = sweep.cfg, sweep.checkpoint, sweep.done, sweep.out
    flags.apply(cfg.numerics)

    skip = sweep.skip  # error runs are not in it: a resume trains them again
    prog = RichProgress(console)
    try:
        result = engines.run(
            sweep.header,
            cfg,
            prog,
            skip=skip,
            on_run=ckpt.append,
            out=out,
            engine=getattr(args, "engine", "local"),
            address=getattr(args, "address", None),
            tasks=getattr(args, "ray_tasks", None),
        )
    finally:
        prog.stop()
    runs = grid.merge_runs(cfg, done, result.runs)
    kind, runs, scale_extra = engines.finish(sweep.header, cfg, runs)  # shard and node fields
    artifact = runner.build_artifact(
        cfg,
        replace(result, runs=runs),
        kind,
        None,
        extra={**grid.sweep_extra(cfg, runs, resumed=bool(done)), **scale_extra},
    )
    write_result(sweep, artifact)
    _print_sweep(console, artifact)
    return finish_sweep(sweep, artifact, console)


def _grid_table(artifact: dict, metric: str, columns: tuple[str, ...]) -> Table:
    """The table of ``metric`` per arm over the sweep's seeds x windows: the arm, ``columns``, and the paired
    difference to the reference arm's mean."""
    config = artifact["config"]
    t = Table(
        title=f"{artifact['kind']}: {metric} over {len(config['seeds'])} seeds x {len(config['windows'])} windows"
    )
    for col in ("arm", *columns, "vs reference (mean)"):
        t.add_column(col, justify="left" if col == "arm" else "right")
    return t


def _print_sweep(console, artifact: dict) -> None:
    if (artifact.get("criterion") or {}).get("metric") == "loss":
        _print_loss_sweep(console, artifact)
        return
    t = _grid_table(artifact, "final training accuracy", ("mean", "std", "min", "median", "max", "near chance"))
    for arm, s in artifact["summary"].items():
        fa = s["final_accuracy"]
        pd = s.get("paired_diff_vs_reference")
        t.add_row(
            arm,
            *(f"{fa[k]:.3f}" for k in ("mean", "std", "min", "median", "max")),
            f"{s['near_chance']['count']}/{fa['count']}",
            f"{pd['mean']:+.3f}" if pd else "-",
        )
    console.print(t)
    _print_time(console, artifact)


def _print_loss_sweep(console, artifact: dict) -> None:
    """A head without classes: each arm's final loss over the grid, and the criterion in words."""
    t = _grid_table(artifact, "final loss", ("runs", "mean", "std", "min", "median", "max"))
    for arm, s in artifact["summary"].items():
        fl = s["final_loss"]
        pd = s.get("paired_diff_vs_reference")
        t.add_row(
            arm,
            str(fl["count"]),
            *(_loss_text(fl[k]) for k in ("mean", "std", "min", "median", "max")),
            f"{unnum(pd['mean']):+.3g}" if pd else "-",
        )
    console.print(t)
    console.print(f"criterion = {artifact['criterion']['text']}", soft_wrap=True)
    _print_time(console, artifact)


def _loss_text(v) -> str:
    return v if isinstance(v, str) else f"{v:.6g}"


def _print_time(console, artifact: dict) -> None:
    tm = artifact["timing"]
    console.print(
        f"time: {tm['total_seconds']:.0f} s in all, {tm['train_seconds']:.0f} s in training steps "
        f"({100 * tm['train_seconds'] / max(tm['total_seconds'], 1e-9):.0f}%)"
    )


def cmd_sensitivity(args, console) -> int:
    if args.k < 2:
        raise ParityError(f"--k {args.k}: a spread needs at least 2 copies")
    if not 0 < args.rel < 1:
        raise ParityError(f"--rel {args.rel}: give a relative perturbation between 0 and 1, e.g. 1e-7")
    cfg = replace(config_from(args, swap=False), diagnostics="light")
    if len(cfg.seeds) != 1 or len(cfg.windows) != 1:
        raise ParityError("sensitivity perturbs one initial weight set: give one --seeds and one --windows value")

    budget.check_sensitivity(cfg, args.k)  # memory and the output, checked and claimed first
    if args.out:
        claim = safeout.OutputClaim.explicit(safeout.plan_outputs(args.out))
    else:
        safeout.plan_folder(DEFAULT_RESULTS)
        claim = safeout.OutputClaim.default(cfg, DEFAULT_RESULTS)
    with claim:
        return _sensitivity(args, console, cfg, claim.path)


def _sensitivity(args, console, cfg, out: Path) -> int:
    flags.apply(cfg.numerics)

    seed, window = cfg.seeds[0], cfg.windows[0]
    workload = workloads.load(cfg.workload)
    base = copy_weights(
        workloads.resolve_ref(workload.model.init)(seed, cfg.threefry_partitionable), workload.model.params
    )
    cases = [runner.Case(seed, window, i) for i in range(args.k)]
    inits = {c.id: grid.perturb(base, args.rel, seed, c.copy) for c in cases}
    prog = RichProgress(console)
    try:
        result = runner.run(cfg, prog, cases=cases, inits=inits, keep_trajectory=False)
    finally:
        prog.stop()
    loss = grid.loss_metric(workload)  # a head without classes: the copies' final losses decide the class
    summarise = stats.sensitivity_loss_summary if loss else stats.sensitivity_summary
    summary, classes = summarise(result.runs, result.finals)
    artifact = runner.build_artifact(
        cfg,
        result,
        "sensitivity",
        None,
        extra={
            "perturbation": {
                "k": args.k,
                "rel": args.rel,
                "seed": seed,
                "window_start": window,
                "base_weights_sha256": weights_sha256(base),
            },
            "sensitivity": summary,
            "classes": classes,
            **({"criterion": {"metric": "loss", "text": stats.sensitivity_loss_criterion()}} if loss else {}),
        },
    )
    write_artifact(out, artifact)
    _print_sensitivity(console, artifact)
    console.print(f"artifact: {out}", soft_wrap=True)
    return 0


def _g(v) -> str:
    return v if isinstance(v, str) else f"{v:.2g}"


def _print_sensitivity(console, artifact: dict) -> None:
    if (artifact.get("criterion") or {}).get("metric") == "loss":
        _print_loss_sensitivity(console, artifact)
        return
    p = artifact["perturbation"]
    t = Table(title=f"sensitivity: {p['k']} copies of seed {p['seed']}'s weights, each perturbed by {p['rel']:g}")
    for col in ("arm", "class", "min", "max", "correct range", "distinct weights", "max |dw| vs copy 0"):
        t.add_column(col, justify="left" if col in ("arm", "class") else "right")
    for arm, s in artifact["sensitivity"].items():
        fa = s["final_accuracy"]
        t.add_row(
            arm,
            s["class"],
            f"{fa['min']:.3f}",
            f"{fa['max']:.3f}",
            str(s["correct_range"]),
            str(s["distinct_final_hashes"]),
            _g(s["max_weight_diff_vs_copy0"]),
        )
    console.print(t)


# ---------------------------------------------------------------------------------------------
# starting a sweep: its options checked against a checkpoint's header for --resume

# Options of `sweep` and the RunConfig field each sets; with --resume a given one must agree with the header.
_RESUME_CHECKED = {
    "seeds": "seeds",
    "windows": "windows",
    "n": "n",
    "arms": "arms",
    "steps": "steps",
    "lr": "lr",
    "normalize": "normalize",
    "data": "data_path",
    "data_sha256": "data_sha256",
    "threefry_partitionable": "threefry_partitionable",
    "onednn": "numerics.onednn",
    "threads": "numerics.threads",
    "no_deterministic": "numerics.deterministic",
    "diagnostics": "diagnostics",
    "workload": "workload",
    # not part of what is computed, but of what the runs were held to: the resumed runs keep the header's limit
    "step_timeout": "step_timeout",
}

_UNSET = object()


def track_explicit_options(parser: argparse.ArgumentParser) -> None:
    """Record which options the user typed on ``args.explicit_options``.

    argparse fills every option with its default, so ``--steps 10`` and no
    ``--steps`` look alike. The sweep's parser parses its arguments a second
    time into a namespace pre-filled with a sentinel (argparse sets a default
    only where the namespace has no value): what is not the sentinel was typed.
    """
    plain = parser.parse_known_args

    def parse_known_args(args=None, namespace=None):
        ns, rest = plain(args, namespace)
        probe = argparse.Namespace(**dict.fromkeys(vars(ns), _UNSET))
        try:
            plain(args, probe)
        except Exception:  # noqa: BLE001 - an unusual action: fall back to checking nothing
            return ns, rest
        ns.explicit_options = frozenset(k for k, v in vars(probe).items() if v is not _UNSET)
        return ns, rest

    parser.parse_known_args = parse_known_args  # type: ignore[method-assign]


def _get(cfg, dotted: str):
    obj = cfg
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


_FLAG_SHOWN = {
    "normalize": "--normalize",
    "threefry_partitionable": "--threefry-partitionable",
    "no_deterministic": "--no-deterministic",
}


def conflicting_options(args, header_cfg, out: Path) -> list[str]:
    """Options typed with ``--resume`` that contradict the header: ``--steps 5 (the sweep has 2)`` each."""
    explicit: frozenset[str] = getattr(args, "explicit_options", frozenset())
    given_names = [d for d in _RESUME_CHECKED if d in explicit]
    out_problem = []
    if "out" in explicit and args.out is not None and Path(args.out).resolve() != out.resolve():
        out_problem = [f"--out {args.out} (the sweep writes {out})"]
    if not given_names:
        return out_problem
    # Fill what was not typed from the header, so that validating the typed values is all config_from does.
    filled = argparse.Namespace(**vars(args))
    h = header_cfg
    defaults = {
        "seeds": ",".join(map(str, h.seeds)),
        "windows": ",".join(map(str, h.windows)),
        "n": h.n,
        "arms": ",".join(h.arms),
        "steps": h.steps,
        "lr": h.lr,
        "normalize": h.normalize,
        "data": h.data_path,
        "data_sha256": h.data_sha256,
        "threefry_partitionable": h.threefry_partitionable,
        "onednn": {True: "on", False: "off", None: "default"}[h.numerics.onednn],
        "threads": h.numerics.threads,
        "no_deterministic": not h.numerics.deterministic,
        "diagnostics": h.diagnostics,
        "workload": h.workload,
        "step_timeout": h.step_timeout,
    }
    for d in _RESUME_CHECKED:
        if d not in explicit:
            setattr(filled, d, defaults[d])
    given = replace(config_from(filled, swap=h.swap), diagnostics=filled.diagnostics)
    problems = []
    for d in given_names:
        a, b = _get(given, _RESUME_CHECKED[d]), _get(h, _RESUME_CHECKED[d])
        if a != b:
            flag = _FLAG_SHOWN.get(d) or f"--{d.replace('_', '-')} {getattr(args, d)}"
            problems.append(f"{flag} (the sweep has {_show(b)})")
    return out_problem + problems


def _show(v) -> str:
    if isinstance(v, tuple):
        return ",".join(map(str, v))
    return str(v)


def start_sweep(args, console, before_write: Callable[[], None] | None = None) -> Sweep:
    """Check everything, take the lock, then create (or reopen, for ``--resume``) the checkpoint.

    Nothing is written before every input and the output folder have been checked,
    so a refused sweep leaves nothing behind.
    """
    if args.resume:
        out = Path(args.resume)
        if out.name.endswith(CHECKPOINT_SUFFIX):
            raise ParityError(
                f"--resume {out}: pass the artifact path "
                f"{out.with_name(out.name.removesuffix(CHECKPOINT_SUFFIX))}, not its checkpoint"
            )
        ckpt_path = checkpoint_path(out)
        if not ckpt_path.is_file():
            if out.exists():
                raise ParityError(f"{out} is already complete: nothing to resume")
            raise ParityError(f"no checkpoint {ckpt_path} to resume from: start the sweep again without --resume")
        return _locked(out, lambda lock: _reopen(args, console, out, lock, before_write))

    cfg = replace(config_from(args, swap=False), diagnostics=args.diagnostics)
    out = Path(args.out) if args.out else default_out(cfg)
    check_out(out)
    budget.check_sweep(cfg)  # memory and every output location before any training
    # the artifact and the checkpoint beside it (every run's line, about as large as the artifact's runs)
    safeout.plan_outputs(out, expected_bytes=2 * budget.artifact_json_bytes(cfg))
    if checkpoint_path(out).exists():
        raise ParityError(f"{checkpoint_path(out)} exists: resume it with --resume {out}, or delete it")
    data_rec = precheck_inputs(cfg)
    precheck(cfg)  # a forward pass of the wrong shape, before the checkpoint is written
    if out.parent.exists() and not out.parent.is_dir():
        raise ParityError(f"--out {out}: {out.parent} is not a folder; choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ParityError(f"--out {out}: cannot create {out.parent} ({exc.strerror}); choose another --out") from None

    def create(lock: SweepLock) -> Sweep:
        check_out(out)  # again, now that no other paritybench can be writing it
        if before_write is not None:  # the engine (Ray) connects before the checkpoint exists
            before_write()
        header = {
            "config": cfg.to_dict(),
            "command": "sweep",
            "data": data_rec,
            **shard.header_fields(getattr(args, "shard", None), cfg),
        }
        digest = _workload_sha256(cfg)
        if digest:  # the workload's content: --resume refuses an edited workload file
            header["workload_sha256"] = digest
        problem = header_problem(json.loads(json.dumps(header)))
        if problem:  # never write a header that --resume would refuse
            raise ParityError(
                f"the sweep's configuration cannot be checkpointed ({problem}): this is a bug, report it", exit_code=3
            )
        return Sweep(cfg, out, Checkpoint(checkpoint_path(out), header), lock, [], header)

    return _locked(out, create)


def _reopen(args, console, out: Path, lock: SweepLock, before_write: Callable[[], None] | None = None) -> Sweep:
    ckpt_path = checkpoint_path(out)
    if not ckpt_path.is_file():  # the writer we waited on finished it
        raise ParityError(f"{out} is already complete: nothing to resume")
    loaded = Checkpoint.load(ckpt_path)
    cfg = config_from_header(loaded.header)
    budget.check_sweep(cfg)  # memory before any training
    conflicts = conflicting_options(args, cfg, out)
    if conflicts:
        raise ParityError(
            f"--resume {out}: {'; '.join(conflicts)}: a resumed sweep keeps its own settings; "
            "drop those options, or start a new sweep with another --out"
        )
    check_same_workload(loaded.header, cfg, out)
    recorded = (loaded.header.get("data") or {}).get("sha256")
    ds = data.load_mnist(cfg.data_path, cfg.data_sha256)
    if recorded is None:
        console.print(
            f"note: {ckpt_path} predates recorded data hashes: the data file is not checked against it", soft_wrap=True
        )
    elif ds.sha256 != recorded:
        raise ParityError(
            f"data file {ds.path} has sha256 {ds.sha256}, but the sweep in {ckpt_path} was trained "
            f"on sha256 {recorded}: restore that file to resume, or start a new sweep"
        )
    if before_write is not None:  # the engine connects before the checkpoint is touched
        before_write()
    ckpt = Checkpoint(ckpt_path)
    if loaded.cut_tail:
        try:
            cut = ckpt.drop_cut_tail()
        except OSError as exc:
            raise ParityError(f"cannot repair checkpoint {ckpt_path} ({exc.strerror}): check its permissions") from None
        console.print(
            f"{ckpt_path}: removed a last line cut by an interruption ({cut} bytes); that run is redone", soft_wrap=True
        )
    damaged = [(i, why) for i, why in loaded.dropped if why != "cut while it was written"]
    if damaged:
        where = ", ".join(f"line {i} ({why})" for i, why in damaged[:3]) + (" ..." if len(damaged) > 3 else "")
        console.print(
            f"{ckpt_path}: dropped {len(damaged)} damaged line{'s' if len(damaged) > 1 else ''}: "
            f"{where}; those runs are redone",
            soft_wrap=True,
        )
    errors = sum(r["status"] == "error" for r in loaded.runs)
    console.print(
        f"resuming {out}: {len(loaded.runs) - errors} runs already finished"
        + (f", {errors} failed runs to retry" if errors else ""),
        soft_wrap=True,
    )
    return Sweep(cfg, out, ckpt, lock, loaded.runs, loaded.header)


def _workload_sha256(cfg) -> str | None:
    return workloads.load(cfg.workload).origin.get("sha256")


def check_same_workload(header: dict, cfg, out: Path) -> None:
    """Refuse to resume when the workload's content changed since the header was written: the runs
    already in the checkpoint and the ones still to train would be of two workloads under one name."""
    recorded = header.get("workload_sha256")
    now = _workload_sha256(cfg)
    if recorded is not None and now != recorded:
        raise ParityError(
            f"--resume {out}: workload {cfg.workload} has changed since the sweep began (sha256 {recorded} "
            f"then, {now} now): restore the workload as it was, or start a new sweep with another --out"
        )


__all__ = ["SweepCommand", "SensitivityCommand"]


def add_sweep_args(p) -> None:
    """``sweep``'s options for sharding and engines."""
    p.add_argument(
        "--shard",
        default=None,
        metavar="I/N",
        help="train only shard I of N (0-based) of the grid into its own artifact; "
        "merge the N artifacts with paritybench merge",
    )
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process; ray: Ray tasks on a cluster (needs the ray extra)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="with --engine ray: an existing cluster's address (default: a local Ray on 127.0.0.1)",
    )
    p.add_argument(
        "--ray-tasks",
        type=int,
        default=None,
        help="with --engine ray: tasks to cut the cases into (default: twice the cluster's CPUs)",
    )


def check_args(args) -> None:
    """Refuse inconsistent engine options before anything is trained or written."""
    if getattr(args, "resume", None) and getattr(args, "shard", None):
        raise ParityError("--shard with --resume: the checkpoint records its shard; give only --resume ARTIFACT")
    engine = getattr(args, "engine", "local")
    if engine != "ray" and (getattr(args, "address", None) or getattr(args, "ray_tasks", None)):
        raise ParityError("--address and --ray-tasks are Ray options: add --engine ray")
    if getattr(args, "ray_tasks", None) is not None and args.ray_tasks < 1:
        raise ParityError(f"--ray-tasks {args.ray_tasks}: must be at least 1")
    if engine == "ray":
        if importlib.util.find_spec("ray") is None:
            raise ParityError(
                '--engine ray needs Ray: install the ray extra: make setup EXTRAS="--extra cpu --extra ray"'
            )


def _print_loss_sensitivity(console, artifact: dict) -> None:
    """A head without classes: each arm's final losses over the copies, their relative spread, its class, and the
    criterion in words."""
    p = artifact["perturbation"]
    t = Table(title=f"sensitivity: {p['k']} copies of seed {p['seed']}'s weights, each perturbed by {p['rel']:g}")
    for col in ("arm", "class", "min loss", "max loss", "loss spread", "distinct weights", "max |dw| vs copy 0"):
        t.add_column(col, justify="left" if col in ("arm", "class") else "right")
    for arm, s in artifact["sensitivity"].items():
        fl = s["final_loss"]
        t.add_row(
            arm,
            s["class"],
            _loss_text(fl["min"]),
            _loss_text(fl["max"]),
            _g(s["loss_spread"]),
            str(s["distinct_final_hashes"]),
            _g(s["max_weight_diff_vs_copy0"]),
        )
    console.print(t)
    console.print(f"criterion = {artifact['criterion']['text']}", soft_wrap=True)
