"""``paritybench run``: one workload's arms from one set of initial weights into one artifact."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

from paritybench.analysis import report_table
from paritybench.analysis.conventions_table import summary_lines
from paritybench.artifact import read_artifact, safeout
from paritybench.artifact.safeout import commit_pair
from paritybench.commands import Command, exit_status
from paritybench.commands.common import (
    DEFAULT_RESULTS,
    RichProgress,
    add_experiment_args,
    config_from,
    nothing_trained,
    report_failed_runs,
)
from paritybench.commands.run_all import cmd_run_all
from paritybench.errors import ParityError
from paritybench.experiment import flags
from paritybench.experiment.weights import weights_group, write_weights_npz
from paritybench.pipeline import budget, runner
from paritybench.pipeline.worker_pool import KerasPool
from paritybench.procs import die_with_parent, orphan_cleanup, tmp_prefix, worker_env
from paritybench.studies.repeat import add_spread, repeat_section


class RunCommand(Command):
    """``paritybench run``."""

    name = "run"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        add_experiment_args(p)
        p.add_argument("--no-weights", action="store_true", help="do not keep final weights beside the artifact")
        p.add_argument(
            "--repeat",
            type=int,
            default=1,
            help="run everything N times, each in a fresh process, and record whether each arm's "
            "final weights are bit-identical across the repeats (default %(default)s)",
        )
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_run(args, console)


def cmd_run(args, console, pool: KerasPool | None = None) -> int:
    """``paritybench run``. ``pool``: the Keras workers of ``paritybench.api.session`` (kept across the calls of
    one process), else this run starts workers of its own."""
    if getattr(args, "workload", None) == "all":  # the catalogue: every built-in workload's preset
        return cmd_run_all(args, console)
    if getattr(args, "repeat", 1) != 1:
        # Each repeat is a fresh process running this same command (run_repeated, below).
        return run_repeated(args, console)
    cfg = config_from(args)
    # before training (safeout, budget): memory, then every output location, checked and the
    # artifact path claimed before any framework import or training

    budget.check_run(cfg)
    claim = _claim_run_outputs(args, cfg)
    try:
        return _run_and_commit(args, console, cfg, claim.path, pool)
    finally:
        claim.release(committed=claim.path.exists())


def _claim_run_outputs(args, cfg):
    """Check every file ``run`` will write, then claim the artifact path."""
    weights = not getattr(args, "no_weights", False)
    expected = budget.artifact_json_bytes(cfg) + (budget.weights_file_bytes(cfg) if weights else 0)
    if args.out:
        out = safeout.plan_outputs(
            args.out, extra=(Path(args.out).with_suffix(".weights.npz"),) if weights else (), expected_bytes=expected
        )
        return safeout.OutputClaim.explicit(out)
    safeout.plan_folder(DEFAULT_RESULTS, expected_bytes=expected)
    return safeout.OutputClaim.default(cfg, DEFAULT_RESULTS)


def _run_and_commit(args, console, cfg, out: Path, pool: KerasPool | None = None) -> int:
    applied = flags.apply(cfg.numerics)

    prog = RichProgress(console)
    try:
        result = runner.run(cfg, prog, pool=pool)
    finally:
        prog.stop()
    failure = nothing_trained(result.runs)
    if failure:  # nothing to compare: no artifact
        raise failure
    # A flag that did not take effect is a recorded warning at the top of environment, never silent.
    result.environment["warnings"] = flags.collect_warnings(result.environment, applied)
    for warning in result.environment["warnings"]:
        console.print(f"numerics warning: {warning}")
    weights_path = out.with_suffix(".weights.npz")
    writer = None
    if result.finals and not args.no_weights:
        groups = {weights_group(key): v for key, v in result.finals.items()}
        writer = lambda fh: write_weights_npz(fh, groups)  # noqa: E731
    artifact = runner.build_artifact(
        cfg, result, "run", weights_path.name if result.finals and not args.no_weights else None
    )
    commit_pair(out, artifact, writer, weights_path)  # weights and JSON land together or not at all
    if artifact.get("conventions", {}).get("differing"):
        # what parts the arms' settings (paritybench conventions --differing shows them side by side)
        console.print("conventions that differ between the arms:")
        for line in summary_lines(artifact["conventions"]):
            console.print(f"  {line}", soft_wrap=True, markup=False)
    report_table.print_run_table(console, artifact)
    for line in report_table.user_step_lines(artifact):
        console.print(f"train step: {line}", soft_wrap=True, markup=False)
    console.print(f"artifact: {out}", soft_wrap=True)
    if result.finals and not args.no_weights:
        console.print(f"final weights: {weights_path}", soft_wrap=True)
    failure = report_failed_runs(result.runs, out)
    if failure:  # an arm's error is the run's failure, as in a sweep
        raise failure
    return 0


def _child_args(args: argparse.Namespace, out: Path) -> dict:
    """The parsed options as JSON, for one repeat: same options, repeat 1, its own --out."""
    d = {k: v for k, v in vars(args).items() if k != "func" and not callable(v)}
    # every repeat keeps its final weights in the temporary folder, so the repeat section can say how far
    # apart two runs are, not only that they differ; the parent keeps them only without --no-weights
    d.update(repeat=1, out=str(out), no_weights=False)
    try:
        json.dumps(d)
    except TypeError as exc:  # an option that cannot travel is a bug in the option, not the user's
        raise ParityError(
            f"--repeat cannot pass the run's options to a fresh process ({exc}): report this", exit_code=3
        ) from None
    return d


def run_repeated(args: argparse.Namespace, console) -> int:
    """Run ``args`` (a parsed ``run``) ``args.repeat`` times in fresh processes; write one artifact."""
    if args.repeat < 1:
        raise ParityError(f"--repeat {args.repeat}: must be at least 1 (2 checks run-to-run determinism)")
    cfg = config_from(args)  # every input error before the first repeat starts
    # before training: the same memory and output checks as one run, and the path claimed, before repeat 1
    budget.check_run(cfg)
    claim = _claim_run_outputs(args, cfg)
    try:
        return _repeat(args, console, claim.path)
    finally:
        claim.release(committed=claim.path.exists())


def _repeat(args: argparse.Namespace, console, out: Path) -> int:
    artifacts: list[dict] = []
    # The child must import this same paritybench, installed or not (as the Keras workers do).
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    with tempfile.TemporaryDirectory(prefix=tmp_prefix() + "repeat-") as tmp:
        for i in range(1, args.repeat + 1):
            rep_out = Path(tmp) / f"repeat-{i}.json"
            job = Path(tmp) / f"repeat-{i}.args.json"
            job.write_text(json.dumps(_child_args(args, rep_out)))
            console.print(f"repeat {i}/{args.repeat} (fresh process)")
            proc = subprocess.run(
                [sys.executable, "-m", "paritybench.commands.run", str(job)], env={**env, **worker_env(Path(tmp))}
            )
            if proc.returncode != 0:
                raise ParityError(
                    f"repeat {i} of {args.repeat} exited with status {proc.returncode} "
                    "(its error is above); no artifact was written",
                    exit_code=proc.returncode,
                )
            artifacts.append(read_artifact(rep_out))
        merged = dict(artifacts[0])
        merged["repeat"] = repeat_section(artifacts)
        add_spread(
            merged["repeat"], [Path(tmp) / a["weights_file"] if a.get("weights_file") else None for a in artifacts]
        )
        merged["repeat"]["seconds"] = [a.get("timing", {}).get("total_seconds") for a in artifacts]
        weights = None if args.no_weights else artifacts[0].get("weights_file")
        merged["weights_file"] = None
        weights_path = out.with_suffix(".weights.npz")
        writer = None
        if weights:

            def writer(dst, src=Path(tmp) / weights):
                with open(src, "rb") as fh:
                    shutil.copyfileobj(fh, dst)

            merged["weights_file"] = weights_path.name
        commit_pair(out, merged, writer, weights_path)  # both files or neither
    console.print(f"artifact: {out}", soft_wrap=True)
    rep = merged["repeat"]
    not_identical = [arm for arm, a in rep["arms"].items() if a["identical"] is False]
    for arm, a in rep["arms"].items():
        verdict = {True: "bit-identical", False: "NOT bit-identical", None: "not run"}[a["identical"]]
        spread = [c.get("max_abs_diff") for c in a["cases"] if c.get("max_abs_diff") is not None]
        if a["identical"] is False and spread:
            verdict += f" (final weights differ by up to {max(spread):.3g})"
        console.print(f"repeat x{rep['count']}: {arm}: {verdict}")
    if not_identical:
        console.print(
            f"repeat: {len(not_identical)} arm(s) not bit-identical across {rep['count']} fresh "
            f"processes: {', '.join(not_identical)}"
        )
        return 1
    return 0


def main(argv: list[str]) -> int:
    """One repeat: ``python -m paritybench.commands.run ARGS.json`` runs ``run`` with those options."""
    args = argparse.Namespace(**json.loads(Path(argv[0]).read_text()))

    def repeat() -> int:
        die_with_parent(unwind=True)  # a killed parent takes this repeat (and its workers) with it
        return cmd_run(args, Console(width=None if sys.stdout.isatty() else 120))

    return exit_status(repeat, on_interrupt=orphan_cleanup)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
