"""``paritybench explain``: for each pair that parts, the conventions whose switch brings it back under the
noise floor (``pipeline.explain``)."""

from __future__ import annotations

import argparse
import json

from paritybench import workloads
from paritybench.artifact import safeout
from paritybench.artifact.safeout import commit_pair
from paritybench.commands import Command
from paritybench.commands.common import add_experiment_args, config_from
from paritybench.errors import ParityError
from paritybench.pipeline import budget, conventions, explain, localize
from paritybench.switches import SWITCHES


class ExplainCommand(Command):
    """``paritybench explain``."""

    name = "explain"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        add_experiment_args(p)
        p.add_argument("--format", choices=("text", "json"), default="text")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_explain(args, console)


def cmd_explain(args, console) -> int:
    cfg = config_from(args, swap=False)
    if len(cfg.seeds) != 1 or len(cfg.windows) != 1:
        raise ParityError("explain takes one --seeds and one --windows value (it follows one trajectory)")
    arm_names = tuple(a.strip() for a in (args.arms or "").split(",") if a.strip())
    w = workloads.load(cfg.workload)
    pairs, skipped = localize.runnable_pairs(w, arm_names)
    skipped += [f"{a.name}: needs a GPU (does not part on a CPU)" for a in w.arms if a.needs_gpu and not arm_names]
    own = sorted({x.name for p in pairs for x in p if x.init is not None})
    if own:
        raise ParityError(
            f"explain: workload {w.name}'s arms {', '.join(own)} draw their own initial weights (Arm.init): their "
            "difference is the weights themselves, which no switch of a convention explains from shared weights; "
            f"compare their distributions with paritybench run --workload {w.name}"
        )
    budget.check_localize(cfg, w, pairs)
    out = None
    if args.out:
        out = safeout.plan_outputs(args.out, expected_bytes=64 * 1024 * (1 + len(pairs)))
    claim = safeout.OutputClaim.explicit(out) if out else None
    try:
        return _explain(args, console, cfg, w, pairs, skipped, out)
    finally:
        if claim is not None:
            claim.release(committed=claim.path.exists())


def _explain(args, console, cfg, w, pairs, skipped, out) -> int:
    ctx = localize.context_for(w, cfg)
    # the rows switches read: every arm of the pairs (a Keras arm's from an inspection worker of its backend: its
    # switches, switches.keras_edits, refuse a setting its model lacks or already has from them, before it trains)
    arms = tuple({x.name: x for p in pairs for x in p}.values())
    rows = conventions.collect(w, arms, cfg.lr, cfg.numerics)
    cache: dict = {}
    found = [explain.explain_pair(ctx, a, b, rows, cache, SWITCHES) for a, b in pairs]
    rec = explain.record(w.name, found)
    if out is not None:
        commit_pair(out, rec, validate=False)  # an explain record, not an artifact: complete or absent
    if args.format == "json":
        console.print_json(json.dumps(rec))
        return 0
    for e in found:
        console.print(f"{e.a} vs {e.b}: {e.verdict}", highlight=False)
        if e.tried:
            _table(console, e)
    for line in skipped:
        console.print(f"skipped: {line}", highlight=False)
    if out is not None:
        console.print(f"explain record: {out}", soft_wrap=True)
    return 0


def _table(console, e: explain.Explanation) -> None:
    """The switches tried, ranked: one line each."""
    p = e.parted or {}
    console.print(
        f"  parted at step {p.get('step')}, {p.get('phase')}, {p.get('tensor')}; switches ranked (largest ratio to "
        "the noise floor over the parted steps, before -> after):",
        highlight=False,
    )
    for i, s in enumerate(e.tried, 1):
        head = f"  {i}. {s.switch.name} ({s.switch.family})"
        if s.refused:
            console.print(f"{head}: refused: {s.refused}", highlight=False, soft_wrap=True)
            continue
        demo = f", demonstrated by {s.switch.demonstrated_by}" if s.switch.demonstrated_by else ""
        hint = ", conventions differ" if s.suggested else ""
        console.print(
            f"{head} on {s.applied_to}: {explain.ratio_text(s.ratio_before)} -> {explain.ratio_text(s.ratio_after)}, "
            f"{'closes' if s.closes else 'does not close'}{hint}{demo}",
            highlight=False,
            soft_wrap=True,
        )
    if e.combination:
        combo = e.combination
        console.print(
            f"  together: {' + '.join(combo['names'])}: {explain.ratio_text(combo['ratio_after'])}"
            + (", closes" if combo["closes"] else ", does not close"),
            highlight=False,
        )
