"""The ``paritybench`` command.

Framework imports happen only after the numerics flags are in the environment:
this module imports none at load time, and each command imports what it needs
after ``flags.apply``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from . import __version__
from .config import RunConfig, parse_int_list
from .errors import ParityError
from .flags import NumericsOptions

DEFAULT_RESULTS = Path("results") / "runs"
COMMAND_MODULES: tuple[str, ...] = ("devices", "studies", "compare", "report", "timing", "shard", "nodes")


def _add_experiment_args(p: argparse.ArgumentParser, seeds_default: str = "0", windows_default: str = "0"):
    p.add_argument("--seeds", default=seeds_default, help="seeds: 0,3 or 0-9 (default %(default)s)")
    p.add_argument("--windows", default=windows_default,
                   help="window starts into x_train: 0,2000 or 0:10000:1000 (default %(default)s)")
    p.add_argument("--workload", default=None,
                   help="a workload name (paritybench workloads), path/to/file.py or module:attr (default seed-bce)")
    p.add_argument("--n", type=int, default=None, help="samples per window (default: the workload's, 1000)")
    p.add_argument("--arms", default="", help="comma-separated arm names (default: every arm of the workload)")
    p.add_argument("--steps", type=int, default=None, help="optimizer steps (default: the workload's, 10)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: the workload's, 0.01)")
    p.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=None,
                   help="scale pixels to [0, 1] (default: the workload's; the seed used raw 0-255)")
    p.add_argument("--data", default=None, help="a Keras-format mnist.npz (default: the bundled slice)")
    p.add_argument("--data-sha256", default=None, help="refuse --data unless its sha256 is this")
    p.add_argument("--threefry-partitionable", action="store_true",
                   help="draw initial weights with JAX's new threefry (the seed used the old one)")
    p.add_argument("--onednn", choices=("on", "off", "default"), default="default",
                   help="TensorFlow oneDNN kernels (changes rounding on CPUs with AVX-512)")
    p.add_argument("--threads", type=int, default=None, help="cap intra-op threads of every framework")
    p.add_argument("--no-deterministic", action="store_true", help="leave the frameworks' determinism flags off")
    p.add_argument("--out", default=None, help="artifact path (default results/runs/<time>-<config>.json)")


def _config_from(args, swap: bool = True) -> RunConfig:
    """The run's configuration from parsed options: the workload's preset where an option is not given.

    The numerics flags go into the environment first: a user's workload file may import a
    framework when it is loaded."""
    from . import flags, workloads
    from .budget import check_finite_options
    from .inputs import check_experiment_args

    check_finite_options(args)  # issue 9: --lr inf/nan (and any float option) refused before anything

    check_experiment_args(args)  # options that contradict each other (paritybench.inputs)

    if args.threads is not None and args.threads < 1:
        raise ParityError(f"--threads {args.threads}: must be at least 1")
    numerics = NumericsOptions(deterministic=not args.no_deterministic,
                               onednn={"on": True, "off": False}.get(args.onednn), threads=args.threads)
    flags.apply(numerics)
    workload = workloads.load(getattr(args, "workload", None))
    steps = workload.training.steps if args.steps is None else args.steps
    lr = workload.training.lr if args.lr is None else args.lr
    n = workload.data.n if args.n is None else args.n
    normalize = workload.data.normalize if args.normalize is None else args.normalize
    arms = tuple(a.strip() for a in args.arms.split(",") if a.strip())
    workload.resolve_arms(arms)  # unknown names: one line listing the valid ones
    if steps < 1:
        raise ParityError(f"--steps {steps}: must be at least 1")
    if not lr > 0:
        raise ParityError(f"--lr {lr}: must be a positive number")
    if n < 1:
        raise ParityError(f"--n {n}: must be at least 1")
    cfg = RunConfig(
        seeds=parse_int_list(args.seeds, "seeds"), windows=parse_int_list(args.windows, "windows"),
        n=n, steps=steps, lr=lr, normalize=normalize,
        arms=arms or workload.arm_names, threefry_partitionable=args.threefry_partitionable,
        data_path=str(Path(args.data).resolve()) if args.data else None, data_sha256=args.data_sha256,
        numerics=numerics, swap=swap, workload=workload.origin.get("spec", workload.name),
    )
    from .numerics_env import check_and_warn

    check_and_warn(cfg.numerics)  # numerics set from outside: refused, or warned about and recorded
    return cfg


def default_out(cfg: RunConfig, folder: Path = DEFAULT_RESULTS) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"{stamp}-{cfg.short_hash()}.json"
    i = 2
    while path.exists():  # results are never overwritten
        path = folder / f"{stamp}-{cfg.short_hash()}-{i}.json"
        i += 1
    return path


def _check_out(path: Path) -> None:
    if path.exists():
        raise ParityError(f"{path} already exists: results are never overwritten; choose another --out")
    if path.suffix != ".json":
        raise ParityError(f"--out {path}: the artifact is JSON; give a path ending in .json")


class RichProgress:
    def __init__(self, console):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.p = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                          TimeRemainingColumn(), console=console, transient=True)
        self.task = None

    def start(self, total):
        self.p.start()
        self.task = self.p.add_task("training", total=total)

    def advance(self, label):
        self.p.update(self.task, advance=1, description=label)

    def stop(self):
        self.p.stop()


def cmd_run(args, console) -> int:
    if getattr(args, "repeat", 1) != 1:
        # Each repeat is a fresh process running this same command (paritybench.repeat).
        from .repeat import run_repeated

        return run_repeated(args, console)
    cfg = _config_from(args)
    # issue 9 hook (safeout, budget): memory, then every output location, checked and the
    # artifact path claimed before any framework import or training
    from . import budget

    budget.check_run(cfg)
    claim = _claim_run_outputs(args, cfg)
    try:
        return _run_and_commit(args, console, cfg, claim.path)
    finally:
        claim.release(committed=claim.path.exists())


def _claim_run_outputs(args, cfg):
    """Check every file ``run`` will write, then claim the artifact path (issue 9)."""
    from . import budget, safeout

    weights = not getattr(args, "no_weights", False)
    expected = budget.weights_file_bytes(cfg) if weights else 0
    if args.out:
        out = safeout.plan_outputs(args.out, extra=(Path(args.out).with_suffix(".weights.npz"),) if weights else (),
                                   expected_bytes=expected)
        return safeout.OutputClaim.explicit(out)
    safeout.plan_folder(DEFAULT_RESULTS, expected_bytes=expected)
    return safeout.OutputClaim.default(cfg, DEFAULT_RESULTS)


def _run_and_commit(args, console, cfg, out: Path) -> int:
    from . import flags

    applied = flags.apply(cfg.numerics)
    from . import report_table, runner
    from .safeout import commit_pair
    from .weights import write_weights_npz

    prog = RichProgress(console)
    try:
        result = runner.run(cfg, prog)
    finally:
        prog.stop()
    # A flag that did not take effect is a recorded warning at the top of environment, never silent.
    result.environment["warnings"] = flags.collect_warnings(result.environment, applied)
    for warning in result.environment["warnings"]:
        console.print(f"numerics warning: {warning}")
    weights_path = out.with_suffix(".weights.npz")
    writer = None
    if result.finals and not args.no_weights:
        groups = {weights_group(key): v for key, v in result.finals.items()}
        writer = lambda fh: write_weights_npz(fh, groups)  # noqa: E731
    artifact = runner.build_artifact(cfg, result, "run",
                                     weights_path.name if result.finals and not args.no_weights else None)
    commit_pair(out, artifact, writer, weights_path)  # issue 9: weights and JSON land together or not at all
    report_table.print_run_table(console, artifact)
    console.print(f"artifact: {out}")
    if result.finals and not args.no_weights:
        console.print(f"final weights: {weights_path}")
    return 0


def weights_group(key) -> str:
    """The npz prefix of one run's final weights: ``arm/s<seed>/w<window>[/c<copy>]``."""
    arm, seed, window, copy = key
    return f"{arm}/s{seed}/w{window}" + ("" if copy is None else f"/c{copy}")


def cmd_validate(args, console) -> int:
    from .artifact import validate_file

    # Every file is judged (a bad one does not hide the next); the exit status is the worst.
    status = 0
    for path in args.files:
        try:
            a = validate_file(path)
        except ParityError as exc:
            print(f"paritybench: error: {exc}", file=sys.stderr)
            status = max(status, exc.exit_code)
            continue
        console.print(f"{path}: valid (schema {a['schema_version']}, {len(a['runs'])} runs)")
    return status


def cmd_data_fetch(args, console) -> int:
    from .data import fetch, load_mnist

    path = fetch(args.cache_dir)
    ds = load_mnist(path)
    console.print(f"{path}: sha256 {ds.sha256}, {ds.x_train.shape[0]} training images")
    return 0


def cmd_env(args, console) -> int:
    import json

    from . import environment, flags

    opts = NumericsOptions()
    flags.apply(opts)
    env = environment.fingerprint()
    fw = {}
    for name in flags.FRAMEWORKS:
        try:
            fw[name] = flags.read_back(name, opts)
        except ImportError as exc:
            fw[name] = {"not_installed": str(exc)}
    env["frameworks"] = fw
    from .devices import gpu_summary  # says plainly whether a GPU is visible (the CUDA image's check)

    env["gpu"] = gpu_summary(fw["jax"].get("devices", []), fw["tensorflow"].get("devices", []), None)
    console.print_json(json.dumps(env, default=str))
    return 0


def cmd_workloads(args, console) -> int:
    """List the built-in and installed workloads with their one-line questions."""
    from rich.table import Table

    from . import workloads

    t = Table(title="workloads (--workload NAME, or path/to/file.py, or package.module:attr)")
    for col in ("name", "version", "arms", "question"):
        t.add_column(col, overflow="fold")
    for name, w, question in workloads.discover():
        t.add_row(name, w.version if w else "-", str(len(w.arms)) if w else "-", question)
    console.print(t)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paritybench",
        description="Paired training arms from one set of initial weights: why one model trains differently "
        "in two frameworks or on two machines, with the evidence in a JSON artifact.")
    parser.add_argument("--version", action="version", version=f"paritybench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="train the arms from one set of initial weights; write an artifact")
    _add_experiment_args(p)
    p.add_argument("--no-weights", action="store_true", help="do not keep final weights beside the artifact")
    p.add_argument("--repeat", type=int, default=1,
                   help="run everything N times, each in a fresh process, and record whether each arm's "
                        "final weights are bit-identical across the repeats (default %(default)s)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check artifacts against the shipped JSON Schema")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("data", help="datasets")
    dsub = p.add_subparsers(dest="data_command", required=True)
    f = dsub.add_parser("fetch", help="download Keras's official mnist.npz and verify its sha256")
    f.add_argument("--cache-dir", default=None, help="where to keep it (default ~/.cache/paritybench)")
    f.set_defaults(func=cmd_data_fetch)

    p = sub.add_parser("workloads", help="list the built-in and installed workloads and the question each answers")
    p.set_defaults(func=cmd_workloads)

    p = sub.add_parser("env", help="print the environment fingerprint and framework numerics settings")
    p.set_defaults(func=cmd_env)

    # Commands that live in modules of their own; each module has add_parser(sub)
    # and imports no framework at module level.
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(f"paritybench.{name}").add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from rich.console import Console

    # Wide enough for the run table when output is a pipe or a CI log.
    console = Console(width=None if sys.stdout.isatty() else 120)
    args = build_parser().parse_args(argv)
    from .procs import install_signal_handlers, interrupted_message

    install_signal_handlers()  # issue 9: SIGTERM/SIGINT unwind (worker killed, temp folders removed)
    try:
        return args.func(args, console)
    except ParityError as exc:
        print(f"paritybench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        line, code = interrupted_message(exc)
        print(line, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
