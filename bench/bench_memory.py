"""Measured peak memory of small paritybench commands against ``paritybench.pipeline.budget``'s estimate.

    .venv/bin/python bench/bench_memory.py            # every case below
    .venv/bin/python bench/bench_memory.py run-60     # one case by name

Each case runs the CLI in a fresh process and samples the resident memory (VmRSS) of the
whole process tree (the CLI and any Keras worker, summed) every 20 ms; the peak of that sum
is what the machine had to provide (``ru_maxrss`` from ``resource`` or ``/usr/bin/time -v``
reports the largest single process only, not the tree). The estimate should be at or above the
measured peak (it is what ``run`` refuses on) without being wildly above it. This is a
benchmark, not a test: it takes minutes and its figures depend on the machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

A = ["--arms", "jax-logits,reference-f64", "--n", "100"]
CASES = {
    "run-2": ["run", *A, "--steps", "2"],
    "run-60": ["run", *A, "--steps", "60"],
    "run-120": ["run", *A, "--steps", "120"],
    "run-keras-jax-2": ["run", "--arms", "keras-jax,reference-f64", "--n", "100", "--steps", "2"],
    "run-keras-tensorflow-2": ["run", "--arms", "keras-tensorflow,reference-f64", "--n", "100", "--steps", "2"],
    "run-keras-jax-60": ["run", "--arms", "keras-jax,reference-f64", "--n", "100", "--steps", "60"],
    "run-keras-jax-30": ["run", "--arms", "keras-jax,jax-keras-clip,reference-f64", "--n", "100", "--steps", "30"],
    "sensitivity-64": ["sensitivity", "--arms", "jax-logits", "--n", "100", "--steps", "5", "--k", "64"],
    "sweep-light-40": [
        "sweep",
        "--arms",
        "jax-logits,reference-f64",
        "--n",
        "100",
        "--steps",
        "5",
        "--seeds",
        "0-39",
        "--windows",
        "0",
    ],
}


def _tree_rss(root: int) -> int:
    """Summed VmRSS (bytes) of ``root`` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/status") as fh:
                kb = next((int(ln.split()[1]) for ln in fh if ln.startswith("VmRSS:")), 0)
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
        rss[int(d)] = kb * 1024
    total, todo = 0, [root]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(children.get(p, []))
    return total


def estimate_for(argv: list[str]) -> int:
    from paritybench.cli import build_parser
    from paritybench.commands.common import config_from
    from paritybench.pipeline import budget

    args = build_parser().parse_args(argv)
    cfg = config_from(args, swap=argv[0] == "run")
    if argv[0] == "sensitivity":
        return budget.estimate(
            replace(cfg, diagnostics="light"), "sensitivity", cases=args.k, keep_trajectory=False, batched=args.k
        ).total
    if argv[0] == "sweep":
        cfg = replace(cfg, diagnostics=args.diagnostics)
    return budget.estimate(cfg, argv[0]).total


def measure(argv: list[str]) -> tuple[int, float]:
    """(peak tree RSS, seconds) of one CLI run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "a.json"
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "paritybench", *argv, "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        peak = 0
        while proc.poll() is None:
            peak = max(peak, _tree_rss(proc.pid))
            time.sleep(0.02)
        err = proc.stderr.read() if proc.stderr else ""
        if proc.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {err[-2000:]}")
        return peak, time.perf_counter() - t


def main(names: list[str]) -> int:
    rows = []
    for name in names or list(CASES):
        argv = CASES[name]
        est = estimate_for(argv)
        peak, secs = measure(argv)
        rows.append(
            {
                "case": name,
                "argv": " ".join(argv),
                "estimate_mib": round(est / 2**20),
                "measured_tree_peak_mib": round(peak / 2**20),
                "estimate_over_measured": round(est / peak, 2),
                "seconds": round(secs, 1),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    under = [r["case"] for r in rows if r["estimate_over_measured"] < 1.0]
    if under:
        print(f"estimate BELOW the measured peak for: {', '.join(under)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
