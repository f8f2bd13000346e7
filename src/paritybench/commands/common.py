"""What the experiment commands share: their options, the configuration built from them, where an
artifact goes by default, and the progress bar. Commands import this; nothing here imports a command
or the CLI."""

from __future__ import annotations

import argparse
import datetime as dt
import math
import sys
from collections.abc import Iterable
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from paritybench import watchdog, workloads
from paritybench.errors import ParityError
from paritybench.experiment import flags
from paritybench.experiment.config import RunConfig, parse_int_list
from paritybench.experiment.flags import NumericsOptions
from paritybench.experiment.numerics_env import check_and_warn

DEFAULT_RESULTS = Path("results") / "runs"


def add_experiment_args(p: argparse.ArgumentParser, seeds_default: str = "0", windows_default: str = "0"):
    p.add_argument("--seeds", default=seeds_default, help="seeds: 0,3 or 0-9 (default %(default)s)")
    p.add_argument(
        "--windows",
        default=windows_default,
        help="window starts into x_train: 0,2000 or 0:10000:1000 (default %(default)s)",
    )
    p.add_argument(
        "--workload",
        default=None,
        help="a workload name (paritybench workloads), path/to/file.py or module:attr (default seed-bce)",
    )
    p.add_argument("--n", type=int, default=None, help="samples per window (default: the workload's, 1000)")
    p.add_argument("--arms", default=None, help="comma-separated arm names (default: every arm of the workload)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the workload's, 10)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the workload's, 0.01)")
    p.add_argument(
        "--normalize",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="scale pixels to [0, 1] (default: the workload's; the seed used raw 0-255)",
    )
    p.add_argument("--data", default=None, help="a Keras-format mnist.npz (default: the bundled slice)")
    p.add_argument("--data-sha256", default=None, help="refuse --data unless its sha256 is this")
    p.add_argument(
        "--threefry-partitionable",
        action="store_true",
        help="draw initial weights with JAX's new threefry (the seed used the old one)",
    )
    p.add_argument(
        "--onednn",
        choices=("on", "off", "default"),
        default="default",
        help="TensorFlow oneDNN kernels (changes rounding on CPUs with AVX-512)",
    )
    p.add_argument("--threads", type=int, default=None, help="cap intra-op threads of every framework")
    p.add_argument("--no-deterministic", action="store_true", help="leave the frameworks' determinism flags off")
    p.add_argument(
        "--step-timeout",
        type=float,
        default=None,
        help="seconds one training step of the workload's code may take before its arm is an error; a "
        "workload module's import and its shape check get one step (default 300, recorded in the artifact)",
    )
    p.add_argument("--out", default=None, help="artifact path (default results/runs/<time>-<config>.json)")


def config_from(args, swap: bool = True) -> RunConfig:
    """The run's configuration from parsed options: the workload's preset where an option is not given.

    The numerics flags go into the environment first: a user's workload file may import a
    framework when it is loaded."""
    check_finite_options(args)  # --lr inf/nan (and any float option) refused before anything

    check_experiment_args(args)  # options that contradict each other

    if args.threads is not None and args.threads < 1:
        raise ParityError(f"--threads {args.threads}: must be at least 1")
    numerics = NumericsOptions(
        deterministic=not args.no_deterministic,
        onednn={"on": True, "off": False}.get(args.onednn),
        threads=args.threads,
    )
    step_timeout = getattr(args, "step_timeout", None)
    watchdog.configure(step_timeout)  # bounds the workload module's import below too
    flags.apply(numerics)  # before the workload's module loads: it may import a framework
    workload = workloads.load(getattr(args, "workload", None))
    steps = workload.training.steps if args.steps is None else args.steps
    lr = workload.training.lr if args.lr is None else args.lr
    n = workload.data.n if args.n is None else args.n
    normalize = workload.data.normalize if args.normalize is None else args.normalize
    arms = parse_arms(args.arms, workload)
    if steps < 1:
        raise ParityError(f"--steps {steps}: must be at least 1")
    if not lr > 0:
        raise ParityError(f"--lr {lr}: must be a positive number")
    if n < 1:
        raise ParityError(f"--n {n}: must be at least 1")
    cfg = RunConfig(
        seeds=parse_int_list(args.seeds, "seeds"),
        windows=parse_int_list(args.windows, "windows"),
        n=n,
        steps=steps,
        lr=lr,
        normalize=normalize,
        arms=arms or workload.arm_names,
        threefry_partitionable=args.threefry_partitionable,
        data_path=str(Path(args.data).resolve()) if args.data else None,
        data_sha256=args.data_sha256,
        numerics=numerics,
        swap=swap,
        workload=workload.origin.get("spec", workload.name),
        step_timeout=watchdog.step_timeout(),
    )

    check_and_warn(cfg.numerics)  # numerics set from outside: refused, or warned about and recorded
    return cfg


def parse_arms(text: str | None, workload) -> tuple[str, ...]:
    """``--arms``: () when not given (every arm); a given list must name arms, each one valid.

    An empty list (``--arms ''``) or an empty name (``--arms ',,'``, ``a,,b``) is a mistake to
    name, never "every arm"."""
    if text is None:
        return ()
    names = tuple(a.strip() for a in text.split(","))
    if not any(names) or not all(names):
        raise ParityError(
            f"--arms {text!r}: {'an empty list' if not any(names) else 'an empty arm name'}: name arms "
            f"of workload {workload.name} ({', '.join(workload.arm_names)}), or leave --arms out for every arm"
        )
    workload.resolve_arms(names)  # unknown names: one line listing the valid ones
    return tuple(dict.fromkeys(names))  # a name given twice is one arm


def _reasons(runs: list[dict]) -> str:
    by_arm: dict[str, list[str]] = {}
    for r in runs:
        by_arm.setdefault(r["arm"], [])
        if r.get("reason") not in by_arm[r["arm"]]:
            by_arm[r["arm"]].append(r.get("reason") or r["status"])
    return "; ".join(f"{arm}: {' / '.join(why)}" for arm, why in by_arm.items())


def nothing_trained(runs: list[dict]) -> ParityError | None:
    """The error of a run in which no arm trained (every run ``error`` or ``skipped``): it writes no
    artifact, since there is nothing in it to compare. None when something trained."""
    if any(r["status"] == "ok" for r in runs):
        return None
    return ParityError(
        f"no arm trained ({len(runs)} runs: {sum(r['status'] == 'error' for r in runs)} error, "
        f"{sum(r['status'] == 'skipped' for r in runs)} skipped), so no artifact was written: {_reasons(runs)}",
        exit_code=1,
    )


def report_failed_runs(runs: list[dict], out: Path) -> ParityError | None:
    """Some runs ``error`` while others trained: the artifact keeps them all (the arms that trained are
    evidence), each failed arm gets a ``paritybench: ARM: ...`` line on stderr as a sweep's do, and the
    error returned makes the exit status 1. None when no run errored."""
    failed = [r for r in runs if r["status"] == "error"]
    if not failed:
        return None
    for arm in dict.fromkeys(r["arm"] for r in failed):
        mine = [r for r in failed if r["arm"] == arm]
        total = sum(r["arm"] == arm for r in runs)
        why = "; ".join(dict.fromkeys(r.get("reason") or "error" for r in mine))
        print(f"paritybench: {arm}: {len(mine)} of {total} runs failed: {why}", file=sys.stderr)
    arms = ", ".join(dict.fromkeys(r["arm"] for r in failed))
    return ParityError(
        f"{len(failed)} of {len(runs)} runs failed ({arms}); {out} records them with the arms that trained",
        exit_code=1,
    )


def default_out(cfg: RunConfig, folder: Path = DEFAULT_RESULTS) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{cfg.short_hash()}.json"
    i = 2
    while path.exists():  # results are never overwritten
        path = folder / f"{stamp}-{cfg.short_hash()}-{i}.json"
        i += 1
    return path


def check_out(path: Path) -> None:
    if path.exists():
        raise ParityError(f"{path} already exists: results are never overwritten; choose another --out")
    if path.suffix != ".json":
        raise ParityError(f"--out {path}: the artifact is JSON; give a path ending in .json")


class RichProgress:
    def __init__(self, console):
        self.p = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self.task = None

    def start(self, total):
        self.p.start()
        self.task = self.p.add_task("training", total=total)

    def advance(self, label):
        self.p.update(self.task, advance=1, description=label)

    def stop(self):
        self.p.stop()


def check_experiment_args(args) -> None:
    """Options of run / sweep / sensitivity that contradict each other, refused before anything runs.

    ``--data-sha256`` without ``--data`` used to be ignored (the bundled slice is
    always held to its own hash) and yet recorded in the config as if it applied.
    """
    sha = getattr(args, "data_sha256", None)
    if sha is not None:
        if not getattr(args, "data", None):
            raise ParityError(
                "--data-sha256 is given without --data: it checks a data file you pass (the bundled "
                "slice is always held to its own hash); add --data PATH or drop --data-sha256"
            )
        if len(sha) != 64 or any(c not in "0123456789abcdefABCDEF" for c in sha):
            raise ParityError(
                f"--data-sha256 {sha!r} is not a sha256 (64 hexadecimal digits): copy it from `sha256sum FILE`"
            )


def check_finite_options(args, names: Iterable[str] | None = None) -> None:
    """Refuse any float option that is not finite (``--lr inf``, ``--rel nan``).

    ``names`` defaults to every float-valued attribute of the parsed ``args``, so a new
    float option is covered without a new check. Range checks stay with each option.
    """
    items = vars(args).items() if names is None else ((n, getattr(args, n, None)) for n in names)
    for name, value in items:
        if isinstance(value, float) and not math.isfinite(value):
            flag = "--" + name.replace("_", "-")
            raise ParityError(f"{flag} {value}: must be a finite number (e.g. {flag} 0.01)")
