"""``paritybench timing FILE [FILE2]``: the report of ``make bench-timing``'s files (``paritybench.timing``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from paritybench.artifact.safeout import check_output_path
from paritybench.commands import Command
from paritybench.errors import ParityError
from paritybench.timing import default_plot_path, load, plot, print_report


def cmd_timing(args, console) -> int:
    files = [load(p) for p in args.files]
    out = None
    if not args.no_plot:
        out = Path(args.plot) if args.plot else default_plot_path(files)
        if out.suffix.lower() != ".png":
            raise ParityError(f"--plot {out}: the plot is a PNG; give a path ending in .png")
        # Before any output: a new regular file (or --overwrite), not an input, a link or a device, writable.

        check_output_path(out, inputs=args.files, overwrite=args.overwrite, what="--plot")
    print_report(console, files)
    if out is not None:
        console.print(f"plot: {plot(files, out, overwrite=args.overwrite)}", soft_wrap=True)
    return 0


class TimingCommand(Command):
    """``paritybench timing``."""

    name = "timing"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        p.add_argument("files", nargs="+", metavar="FILE", help="one timing file, or two (two machines) side by side")
        p.add_argument("--plot", default=None, help="PNG path (default results/reports/timing-<files>.png)")
        p.add_argument("--no-plot", action="store_true", help="print the tables only")
        p.add_argument("--overwrite", action="store_true", help="let the plot replace an existing regular file")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return _checked(args, console)


def _checked(args, console) -> int:
    if len(args.files) > 2:
        raise ParityError(f"timing takes one or two files, got {len(args.files)}: compare two machines at a time")
    return cmd_timing(args, console)
