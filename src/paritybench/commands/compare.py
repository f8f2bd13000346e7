"""``paritybench compare``: verdicts run by run (``analysis.compare``), with the classes the workload declares."""

from __future__ import annotations

import argparse
import sys

from paritybench import workloads
from paritybench.analysis.compare import compare, load, render_json, render_markdown, render_text
from paritybench.analysis.tolerances import classes_from
from paritybench.artifact.inputs import read_json
from paritybench.artifact.safeout import check_output_path, write_output
from paritybench.commands import Command
from paritybench.errors import ParityError


def workload_classes(artifact: dict) -> dict[str, str]:
    """The expected class of each arm, from the artifact's workload declaration where it can be
    loaded here (a built-in or installed workload, or a file still at its recorded path)."""

    w = artifact.get("workload") or {}
    spec = w.get("spec") if w.get("source") == "file" else w.get("name")
    try:
        loaded = workloads.load(spec)
    except ParityError:
        return {}
    return loaded.expected_classes if loaded.version == w.get("version") else {}


def cmd_compare(args, console) -> int:
    """Compare the first artifact with each of the others; print verdicts and environment diffs."""
    if len(args.artifacts) < 2:
        raise ParityError("compare needs at least two artifacts: paritybench compare REFERENCE.json OTHER.json")
    if args.output:  # before any work: a new regular file, or --overwrite; never an input, link or device
        check_output_path(
            args.output,
            inputs=[*args.artifacts, *([args.sensitivity] if args.sensitivity else [])],
            overwrite=args.overwrite,
            what="--output",
        )
    sensitivity = None
    if args.sensitivity:
        sensitivity = read_json(
            args.sensitivity, "sensitivity file", "pass the artifact written by paritybench sensitivity"
        )
        if not isinstance(sensitivity, dict):
            raise ParityError(
                f"sensitivity file {args.sensitivity} is a JSON {type(sensitivity).__name__}, not an "
                'object with "classes": pass the artifact written by paritybench sensitivity'
            )
    loaded = [load(p) for p in args.artifacts]
    if args.workload:
        name = workloads.load(args.workload).name
        for side in loaded:
            if side.artifact["workload"]["name"] != name:
                raise ParityError(
                    f"{side.path} is of workload {side.artifact['workload']['name']}, not {name}: "
                    "compare artifacts of the workload you name, or leave out --workload"
                )
    classes = classes_from(sensitivity, str(args.sensitivity), workload_classes(loaded[0].artifact))
    comparisons = [compare(loaded[0], other, classes) for other in loaded[1:]]
    divergent = [(c, v) for c in comparisons for v in c.verdicts if v.verdict == "divergent"]
    status = 1 if divergent else 0
    text = {
        "text": lambda: render_text(comparisons),
        "markdown": lambda: render_markdown(comparisons),
        "json": lambda: render_json(comparisons, status),
    }[args.format]()
    if args.output:
        write_output(args.output, text.encode(), overwrite=args.overwrite)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    if divergent:
        shown = "; ".join(
            f"{v.label} vs {c.other.name}: {v.reasons[0] if v.reasons else 'divergent'}" for c, v in divergent[:3]
        )
        more = f" (and {len(divergent) - 3} more)" if len(divergent) > 3 else ""
        print(f"paritybench: compare: {len(divergent)} divergent run(s): {shown}{more}", file=sys.stderr)
    return status


class CompareCommand(Command):
    """``paritybench compare``."""

    name = "compare"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        p.add_argument(
            "artifacts",
            nargs="+",
            metavar="ARTIFACT",
            help="the reference artifact, then one or more to compare with it",
        )
        p.add_argument(
            "--sensitivity",
            default=None,
            metavar="FILE",
            help='a paritybench sensitivity artifact whose "classes" say which arms are stable or chaotic '
            "(default: the classes the workload declares, each with its evidence)",
        )
        p.add_argument(
            "--workload",
            default=None,
            help="refuse (exit 2) artifacts of any other workload (artifacts of two workloads are never "
            "compared in any case)",
        )
        p.add_argument(
            "--format",
            choices=("text", "markdown", "json"),
            default="text",
            help="text for a terminal, markdown for a CI job summary, json for machines",
        )
        p.add_argument(
            "--output",
            default=None,
            metavar="FILE",
            help="write the report to this new file instead of stdout (never to an input)",
        )
        p.add_argument("--overwrite", action="store_true", help="let --output replace an existing regular file")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_compare(args, console)
