"""``paritybench nodes``: a sweep split by the machine each run trained on (``studies.nodes``)."""

from __future__ import annotations

import argparse
import json

from rich.table import Table

from paritybench.artifact import reference_arm, validate_file
from paritybench.artifact.safeout import check_output_path, write_output
from paritybench.commands import Command
from paritybench.studies.nodes import differences, split_summary


def cmd_nodes(args, console) -> int:
    if args.json:  # before anything is read: a new regular .json file, never the input
        check_output_path(args.json, inputs=[args.artifact], overwrite=args.overwrite, what="--json", suffix=".json")
    art = validate_file(args.artifact)
    table = art.get("nodes") or {}
    for nid, info in table.items():
        console.print(
            f"{nid}: {info.get('hostname')}, {info.get('cpu')}, {info.get('logical_cpus')} CPUs, "
            f"devices {', '.join(info.get('devices') or [])}"
        )
    diff = art.get("node_differences") or differences(table)
    if diff.get("hardware") or diff.get("software"):
        console.print(f"nodes differ in hardware {diff['hardware'] or 'none'}, software {diff['software'] or 'none'}")
    elif len(table) > 1:
        console.print("nodes agree in hardware and software (only host names differ)")
    split = split_summary(art)
    loss = any(r.get("metric") == "loss" for r in art["runs"])  # a head without classes: the final loss
    what, key = ("final loss", "mean_final_loss") if loss else ("final accuracy", "mean_final_accuracy")
    t = Table(title=f"runs by node: {what}, and paired difference vs {reference_arm(art)} on the same case")
    for col in ("node", "arm", "runs", "mean", "diff mean", "max |diff|"):
        t.add_column(col, justify="left" if col in ("node", "arm") else "right")
    for node, arms in split.items():
        for arm, s in arms.items():
            t.add_row(
                node,
                arm,
                str(s["runs"]),
                f"{s[key]:.6g}" if loss else f"{s[key]:.3f}",
                "-" if s["paired_diff_mean"] is None else f"{s['paired_diff_mean']:+{'.3g' if loss else '.4f'}}",
                "-" if s["paired_diff_max_abs"] is None else f"{s['paired_diff_max_abs']:{'.3g' if loss else '.4f'}}",
            )
    console.print(t)
    if args.json:
        write_output(
            args.json,
            (json.dumps({"nodes": table, "node_differences": diff, "by_node": split}, indent=1) + "\n").encode(),
            overwrite=args.overwrite,
        )
    return 0


class NodesCommand(Command):
    """``paritybench nodes``."""

    name = "nodes"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        p.add_argument("artifact", help="a sweep artifact (local, merged shards or Ray)")
        p.add_argument("--json", default=None, metavar="FILE", help="also write the split as JSON (a new .json file)")
        p.add_argument("--overwrite", action="store_true", help="let --json replace an existing regular file")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_nodes(args, console)
