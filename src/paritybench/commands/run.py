"""``paritybench run``: one workload's arms from one set of initial weights into one artifact."""

from __future__ import annotations

from pathlib import Path

from paritybench.commands.common import DEFAULT_RESULTS, RichProgress, add_experiment_args, config_from, weights_group


def add_parser(sub) -> None:
    p = sub.add_parser("run", help="train the arms from one set of initial weights; write an artifact")
    add_experiment_args(p)
    p.add_argument("--no-weights", action="store_true", help="do not keep final weights beside the artifact")
    p.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run everything N times, each in a fresh process, and record whether each arm's "
        "final weights are bit-identical across the repeats (default %(default)s)",
    )
    p.set_defaults(func=cmd_run)


def cmd_run(args, console) -> int:
    if getattr(args, "workload", None) == "all":  # the catalogue: every built-in workload's preset
        from paritybench.commands.run_all import cmd_run_all

        return cmd_run_all(args, console)
    if getattr(args, "repeat", 1) != 1:
        # Each repeat is a fresh process running this same command (paritybench.studies.repeat).
        from paritybench.studies.repeat import run_repeated

        return run_repeated(args, console)
    cfg = config_from(args)
    # issue 9 hook (safeout, budget): memory, then every output location, checked and the
    # artifact path claimed before any framework import or training
    from paritybench.pipeline import budget

    budget.check_run(cfg)
    claim = _claim_run_outputs(args, cfg)
    try:
        return _run_and_commit(args, console, cfg, claim.path)
    finally:
        claim.release(committed=claim.path.exists())


def _claim_run_outputs(args, cfg):
    """Check every file ``run`` will write, then claim the artifact path (issue 9)."""
    from paritybench.artifact import safeout
    from paritybench.pipeline import budget

    weights = not getattr(args, "no_weights", False)
    expected = budget.weights_file_bytes(cfg) if weights else 0
    if args.out:
        out = safeout.plan_outputs(
            args.out, extra=(Path(args.out).with_suffix(".weights.npz"),) if weights else (), expected_bytes=expected
        )
        return safeout.OutputClaim.explicit(out)
    safeout.plan_folder(DEFAULT_RESULTS, expected_bytes=expected)
    return safeout.OutputClaim.default(cfg, DEFAULT_RESULTS)


def _run_and_commit(args, console, cfg, out: Path) -> int:
    from paritybench.experiment import flags

    applied = flags.apply(cfg.numerics)
    from paritybench.analysis import report_table
    from paritybench.artifact.safeout import commit_pair
    from paritybench.experiment.weights import write_weights_npz
    from paritybench.pipeline import runner

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
    artifact = runner.build_artifact(
        cfg, result, "run", weights_path.name if result.finals and not args.no_weights else None
    )
    commit_pair(out, artifact, writer, weights_path)  # issue 9: weights and JSON land together or not at all
    if artifact.get("conventions", {}).get("differing"):
        from paritybench.analysis.conventions_table import summary_lines

        # what parts the arms' settings (paritybench conventions --differing shows them side by side)
        console.print("conventions that differ between the arms:")
        for line in summary_lines(artifact["conventions"]):
            console.print(f"  {line}", soft_wrap=True, markup=False)
    report_table.print_run_table(console, artifact)
    console.print(f"artifact: {out}")
    if result.finals and not args.no_weights:
        console.print(f"final weights: {weights_path}")
    return 0
