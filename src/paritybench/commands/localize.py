"""``paritybench localize``: for each pair of arms, the first (step, phase, tensor) at which they part."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from paritybench import workloads
from paritybench.analysis import localize_plot
from paritybench.artifact import formats, safeout
from paritybench.artifact.safeout import check_output_path, commit_pair
from paritybench.commands import Command
from paritybench.commands.common import add_experiment_args, config_from
from paritybench.errors import ParityError
from paritybench.pipeline import budget, localize


class LocalizeCommand(Command):
    """``paritybench localize``."""

    name = "localize"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        add_experiment_args(p)
        p.add_argument("--format", choices=("table", "json"), default="table")
        p.add_argument(
            "--plot",
            default=None,
            help="PNG path: each pair's ratio to the noise floor per (phase, tensor) "
            "over steps (a new file, or --overwrite)",
        )
        p.add_argument("--overwrite", action="store_true", help="let --plot replace an existing regular file")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_localize(args, console)


def cmd_localize(args, console) -> int:
    cfg = config_from(args, swap=False)
    if len(cfg.seeds) != 1 or len(cfg.windows) != 1:
        raise ParityError("localize takes one --seeds and one --windows value (it follows one trajectory)")
    arm_names = tuple(a.strip() for a in (args.arms or "").split(",") if a.strip())  # checked by config_from

    w = workloads.load(cfg.workload)
    pairs, skipped = localize.runnable_pairs(w, arm_names)
    # run's checks, before any training: the step cap and memory, every output
    # location (free disk included), the record's path claimed, then written whole or not at all
    budget.check_localize(cfg, w, pairs)
    out = None
    if args.out:
        out = safeout.plan_outputs(args.out, expected_bytes=budget.localize_record_bytes(cfg, w, pairs))
    if args.plot:
        check_output_path(
            args.plot,
            inputs=[p for p in (out, cfg.data_path) if p],
            overwrite=args.overwrite,
            what="--plot",
            suffix=".png",
        )
    claim = safeout.OutputClaim.explicit(out) if out else None
    try:
        return _localize(args, console, cfg, w, pairs, skipped, out)
    finally:
        if claim is not None:
            claim.release(committed=claim.path.exists())


def _localize(args, console, cfg, w, pairs, skipped, out) -> int:
    ctx = localize.context_for(w, cfg)
    cache: dict = {}
    results = [localize.localize_pair(ctx, a, b, cache) for a, b in pairs]
    rec = {
        "kind": "localize",
        formats.FORMAT_FIELD: formats.LOCALIZE_RECORD,
        "workload": w.describe(),
        "seed": cfg.seeds[0],
        "window": cfg.windows[0],
        "steps": cfg.steps,
        "lr": cfg.lr,
        "n": cfg.n,
        "factor": localize.FACTOR,
        "factor_evidence": localize.FACTOR_EVIDENCE,
        "bytes_per_step_per_arm": localize.bytes_per_step(w, cfg.n, 1),
        "seconds": ctx.seconds,
        "pairs": [r.to_dict() for r in results],
        "skipped": skipped,
    }
    if out is not None:
        commit_pair(out, rec, validate=False)  # a localize record, not an artifact: complete or absent
    plotted = None
    if args.plot:
        plotted, _ = localize_plot.plot(rec, args.plot, overwrite=args.overwrite)
    if args.format == "json":
        console.print_json(
            json.dumps({**rec, "pairs": [{k: v for k, v in p.items() if k != "checks"} for p in rec["pairs"]]})
        )
        return 0
    for r in results:
        console.print(r.line(), highlight=False)
        if r.left_out_line():
            console.print(r.left_out_line(), highlight=False)
    _table(console, results)
    for line in skipped:
        console.print(f"skipped: {line}", highlight=False)
    if out is not None:
        console.print(f"localize record: {out}", soft_wrap=True)
    if plotted:
        console.print(f"plot: {plotted}", soft_wrap=True)
    return 0


def _table(console, results) -> None:
    t = Table(title="first parting per pair (ratio = difference / float32 noise floor at the same weights)")
    for c in ("pair", "step", "phase", "tensor", "ratio", "largest ratio", "then"):
        t.add_column(c)
    for r in results:
        f = r.first
        g = r.growth or {}
        then = (
            f"chaotic from step {g['from_step']}, x{g['rate']:.3g}/step"
            if g.get("chaotic")
            else ("no chaotic growth" if f else "")
        )
        t.add_row(
            f"{r.a} vs {r.b}",
            "-" if f is None else str(f.step),
            "-" if f is None else f.phase,
            "-" if f is None else f.tensor,
            "-" if f is None else ("non-finite" if f.nonfinite else f"{f.ratio:.3g}"),
            f"{r.max_ratio:.3g}",
            then,
        )
    console.print(t)
