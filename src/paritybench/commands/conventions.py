"""``paritybench conventions``: each arm's effective settings side by side, before any training."""

from __future__ import annotations

import argparse
import json

from paritybench import workloads
from paritybench.analysis import conventions_table
from paritybench.commands import Command
from paritybench.commands.common import add_experiment_args, config_from
from paritybench.pipeline import conventions


class ConventionsCommand(Command):
    """``paritybench conventions``."""

    name = "conventions"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        add_experiment_args(p)
        p.add_argument("--format", choices=("table", "json"), default="table")
        p.add_argument("--differing", action="store_true", help="show only the rows that differ")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_conventions(args, console)


def cmd_conventions(args, console) -> int:
    cfg = config_from(args, swap=False)

    workload = workloads.load(cfg.workload)
    rec = conventions.report(workload, workload.resolve_arms(cfg.arms), cfg.lr, cfg.numerics)
    rec["mismatched declarations"] = conventions_table.declaration_mismatches(rec["arms"])
    if args.format == "json":
        console.print_json(json.dumps(rec))
        return 0
    console.print(
        f"workload {workload.name}: {len(rec['differing'])} settings differ across "
        f"{len(rec['arms'])} arms: {', '.join(rec['differing'])}"
    )
    conventions_table.render(console, rec, only_differing=args.differing)
    for arm, why in rec["skipped"].items():
        console.print(f"{arm}: skipped ({why})")
    for m in rec["mismatched declarations"]:
        console.print(f"declaration contradicted by the code: {m}")
    return 0
