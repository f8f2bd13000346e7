"""``paritybench explain`` on every built-in catalogue workload's ports (``role="port"``) against its reference,
from shared initial weights at the workload's preset (seed 0, window 0): one record per workload,
``results/explain/<workload>.json``, and the table (workload, pair, first parting, top switch, ratio before ->
after) on stdout, in markdown.

Usage: ``.venv/bin/python tools/explain_catalogue.py [--workloads a,b] [--out-dir results/explain]``. Each
workload runs in its own ``paritybench explain`` process (its own numerics flags); a workload explain refuses
(init-defaults: no shared initial weights) gets its one-line reason in the table and no record; a workload whose
ports need a GPU gets a record with no pairs on a CPU.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from paritybench.workloads import registry

ROOT = Path(__file__).resolve().parents[1]


def _r(x) -> str:
    return "non-finite" if x is None else f"{x:.3g}"


def rows_for(name: str, record: dict) -> list[str]:
    out = []
    for p in record["pairs"]:
        parted = p["parted"]
        where = "-" if parted is None else f"step {parted['step']}, {parted['phase']}, `{parted['tensor']}`"
        closing = [s for s in p["switches"] if s["closes"]]
        top = closing[0] if closing else next((s for s in p["switches"] if s["refused"] is None), None)
        if parted is None:
            switch, ratio = "does not part: nothing to explain", "-"
        elif top is None:
            switch, ratio = "none applies", "-"
        elif not top["closes"] and not (top["ratio_after"] or float("inf")) < (top["ratio_before"] or float("inf")):
            switch, ratio = "none closes or reduces it", f"{_r(top['ratio_before'])}"
        else:
            switch = top["name"] + ("" if top["closes"] else " (does not close)")
            ratio = f"{_r(top['ratio_before'])} -> {_r(top['ratio_after'])}"
        out.append(f"| {name} | {p['a']} vs {p['b']} | {where} | {switch} | {ratio} |")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workloads", default=None, help="comma-separated built-in workloads (default: all)")
    ap.add_argument("--out-dir", default=str(ROOT / "results" / "explain"))
    ap.add_argument("--table-only", action="store_true", help="the table from the records already in --out-dir")
    args = ap.parse_args(argv)
    names = args.workloads.split(",") if args.workloads else list(registry.BUILTIN)
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    lines = [
        "| workload | pair | first parting | top switch | ratio before -> after |",
        "| --- | --- | --- | --- | --- |",
    ]
    for name in names:
        w = registry.load(name)
        ports = [a.name for a in w.arms if a.role == "port"]
        out = out_dir / f"{name}.json"
        if args.table_only:
            if out.exists():
                lines += rows_for(name, json.loads(out.read_text()))
            continue
        cmd = [
            sys.executable,
            "-m",
            "paritybench",
            "explain",
            "--workload",
            name,
            "--arms",
            ",".join([*ports, w.reference]),
        ]
        cmd += ["--out", str(out)]
        out.unlink(missing_ok=True)  # the tool's own record of an earlier run: replaced
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
        if proc.returncode != 0:
            why = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
            lines.append(f"| {name} | {', '.join(ports)} vs {w.reference} | - | refused: {why} | - |")
            continue
        rec = json.loads(out.read_text())
        if not rec["pairs"]:  # every port needs a GPU: localize's pairs leave them out on a CPU
            lines.append(f"| {name} | {', '.join(ports)} vs {w.reference} | - | no pair: the ports need a GPU | - |")
        lines += rows_for(name, rec)
        print(f"{name}: done", file=sys.stderr)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
