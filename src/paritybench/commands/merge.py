"""``paritybench merge``: the shard artifacts of one sweep (``sweep --shard I/N``) into one artifact."""

from __future__ import annotations

import argparse
from pathlib import Path

from paritybench.artifact import write_artifact
from paritybench.commands import Command
from paritybench.commands.common import check_out
from paritybench.commands.sweep import _print_sweep
from paritybench.studies.shard import merge_shards


def cmd_merge(args, console) -> int:
    out = Path(args.out)
    check_out(out)
    art = merge_shards(args.artifacts)
    write_artifact(out, art)
    _print_sweep(console, art)
    diff = art.get("node_differences") or {}
    if diff.get("hardware") or diff.get("software"):
        console.print(f"nodes differ: {diff}")
    console.print(f"merged {art['merged_from']['count']} shards, {len(art['runs'])} runs: {out}")
    return 0


class MergeCommand(Command):
    """``paritybench merge``."""

    name = "merge"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        p.add_argument("artifacts", nargs="+", metavar="SHARD", help="every shard artifact of the sweep")
        p.add_argument("--out", required=True, help="the merged sweep artifact (.json; never overwritten)")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_merge(args, console)
