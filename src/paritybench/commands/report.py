"""``paritybench report``: the Markdown report of artifacts and the same report as one self-contained HTML page
(led by explain verdicts and closed by localize partings when their records are given), the catalogue page of
many workloads, or the per-tensor plots of localize records on their own (``analysis.report``,
``analysis.report_html``, ``analysis.catalogue``, ``analysis.localize_plot``)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path

from paritybench import workloads
from paritybench.analysis import localize_plot
from paritybench.analysis.catalogue import artifacts_of_index, write_catalogue
from paritybench.analysis.explain_record import is_explain_record
from paritybench.analysis.explain_record import load as load_explain
from paritybench.analysis.localize_plot import layout, plot
from paritybench.analysis.localize_plot import load as load_record
from paritybench.analysis.report import check_report_out, load, report_files, write_report
from paritybench.artifact.index import is_index
from paritybench.artifact.safeout import check_output_dir, check_output_path
from paritybench.commands import Command
from paritybench.errors import ParityError


class ReportCommand(Command):
    """``paritybench report``."""

    name = "report"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        p.add_argument(
            "artifacts",
            nargs="+",
            help="run, sweep and/or sensitivity artifacts (raw and --normalize), with explain and localize --out "
            "records of their workload for report.html; or localize --out records alone (a PNG each)",
        )
        p.add_argument("--out", default=None, help="output folder (default: <first artifact>-report beside it)")
        p.add_argument(
            "--workload",
            default=None,
            help="refuse (exit 2) any artifact of another workload (default: take each as it is)",
        )
        p.add_argument(
            "--overwrite",
            action="store_true",
            help="let the report replace report.md, report.html and plots already in the folder",
        )
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_report(args, console)


def cmd_report(args, console) -> int:
    localizes = [p for p in args.artifacts if localize_plot.is_localize_record(p)]
    explains = [p for p in args.artifacts if is_explain_record(p)]
    rest = [p for p in args.artifacts if p not in localizes and p not in explains]
    if localizes and not explains and not rest:
        return _localize_report(args, console)  # the per-tensor ratio plot of paritybench localize --out
    if not rest:
        raise ParityError(
            "an explain record is reported beside its workload's run artifact: give the artifact too "
            "(paritybench run --out), or report localize records on their own for their plots"
        )
    if any(is_index(p) for p in rest) or _several_workloads(rest):
        if localizes or explains:
            raise ParityError(
                "explain and localize records go into one workload's report, not the catalogue page: "
                "report them with that workload's artifacts"
            )
        return _cmd_catalogue(args, console)  # the catalogue page (paritybench.analysis.catalogue)
    artifacts = load(rest)
    if args.workload:
        name = workloads.load(args.workload).name
        for a in artifacts:
            if a["workload"]["name"] != name:
                raise ParityError(
                    f"{a['_path']} is of workload {a['workload']['name']}, not {name}: "
                    "report one workload's artifacts, or leave out --workload"
                )
    records = _records(artifacts, explains, localizes)
    first = Path(rest[0])
    out_dir = Path(args.out) if args.out else first.with_name(first.stem + "-report")
    runs = sum(a.get("kind", "run") == "run" for a in artifacts)
    check_report_out(out_dir, args.artifacts, args.overwrite, report_files(runs))
    report = write_report(artifacts, out_dir, records["explain"], records["localize"])
    console.print(report.read_text().split("## Figures")[0])
    console.print(f"report: {report}", soft_wrap=True)
    console.print(f"page: {out_dir / 'report.html'} (self-contained HTML)", soft_wrap=True)
    return 0


def _records(artifacts: list[dict], explains: list[str], localizes: list[str]) -> dict[str, list[dict]]:
    """The explain and localize records, each checked whole and of the artifacts' workload, before any work."""
    names = {a["workload"]["name"] for a in artifacts}
    out: dict[str, list[dict]] = {"explain": [], "localize": []}
    for kind, paths in (("explain", explains), ("localize", localizes)):
        for p in paths:
            rec = load_explain(p) if kind == "explain" else load_record(p)
            if kind == "localize":
                layout(rec)  # its plot goes into report.html: a record that cannot be drawn is refused now
            wl = rec.get("workload")
            name = wl.get("name") if isinstance(wl, dict) else wl
            if name not in names:
                raise ParityError(
                    f"{p} is a {kind} record of workload {name}, the artifacts are of {', '.join(sorted(names))}: "
                    "report a record with its own workload's artifacts"
                )
            rec["_path"] = str(p)
            rec["_sha256"] = hashlib.sha256(Path(p).read_bytes()).hexdigest()  # report.html's provenance
            out[kind].append(rec)
    return out


def _several_workloads(paths: list[str]) -> bool:
    """Run artifacts of more than one workload (read cheaply; the real checks come in ``load``)."""

    names = set()
    for p in paths:
        try:
            a = json.loads(Path(p).read_text())
        except (OSError, ValueError, RecursionError):  # left to the artifact checks' one-line errors
            return False
        if not isinstance(a, dict) or a.get("kind", "run") != "run":
            return False
        names.add((a.get("workload") or {}).get("name", "seed-bce"))
    return len(names) > 1


def _cmd_catalogue(args, console) -> int:
    index, paths = None, []
    for p in args.artifacts:
        if is_index(p):
            index, listed = artifacts_of_index(p)
            paths += listed
        else:
            paths.append(p)
    artifacts = [a for a in load(paths) if a.get("kind", "run") == "run"]
    first = Path(args.artifacts[0])
    out_dir = Path(args.out) if args.out else first.with_name(first.stem + "-catalogue")
    check_report_out(out_dir, paths + list(args.artifacts), args.overwrite)

    for name in ["catalogue.md", *(f"{a['workload']['name']}-curves.png" for a in artifacts)]:
        check_output_path(out_dir / name, inputs=paths + list(args.artifacts), overwrite=args.overwrite, what="--out")
    page = write_catalogue(artifacts, out_dir, index, roles=workload_roles)
    console.print(f"catalogue: {page}", soft_wrap=True)
    return 0


def _localize_report(args, console) -> int:
    """``paritybench report RECORD.json [--out FOLDER]`` for localize records: one PNG per record,
    ``<record stem>-localize.png`` in the folder (default ``<first record>-report`` beside it)."""

    first = Path(args.artifacts[0])
    out_dir = Path(args.out) if args.out else first.with_name(first.stem + "-report")
    if os.path.islink(out_dir) or (os.path.lexists(out_dir) and not out_dir.is_dir()):
        raise ParityError(f"--out {out_dir} is a symbolic link or not a directory: give a new or existing folder")
    check_output_dir(out_dir, "--out")  # only the PNGs are checked: a report.md there is none of ours
    names = [f"{Path(p).stem}-localize.png" for p in args.artifacts]
    if len(set(names)) != len(names):
        raise ParityError("two localize records share a file name: rename one, or report them one at a time")
    targets = [
        check_output_path(out_dir / n, inputs=args.artifacts, overwrite=args.overwrite, what="--out", suffix=".png")
        for n in names
    ]
    records = [load_record(p) for p in args.artifacts]
    for rec in records:
        layout(rec)  # every record checked before the first PNG is written
    for rec, target in zip(records, targets, strict=True):
        path, lay = plot(rec, target, overwrite=args.overwrite)
        console.print(
            f"plot: {path} ({len(lay.rows)} pairs, {len(lay.panels)} panels)", highlight=False, soft_wrap=True
        )
    return 0


def workload_roles(name: str) -> tuple[dict[str, str], str | None, dict[str, str]]:
    """(arm -> role, fix arm, arm -> description) from the declaration, or empty when it cannot load."""
    try:
        w = workloads.load(name)
    except ParityError:
        return {}, None, {}
    return {a.name: a.role for a in w.arms}, w.fix, {a.name: a.description for a in w.arms}
