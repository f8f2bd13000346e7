"""issue 12: the evidence for localize's FACTOR on every built-in workload (not a test).

Usage: .venv/bin/python bench/localize_factor.py OUT_DIR [workload ...]
Runs ``paritybench localize --workload W --out OUT_DIR/W.json`` (every arm against the float64 arbiter at the
workload's preset, seed 0, window 0) once per workload in a fresh process, then prints one row per pair:
whether it parts, the ratio of its first parting, its largest ratio, and the (step, phase, tensor) of that
largest ratio. The factor must sit above every never-parting pair's largest ratio (the stable arms: the
reference's own convention in float32, Keras arms and their emulations) and below every real parting's.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import time
from pathlib import Path

BUILTIN = (
    "seed-bce",
    "softmax-ce",
    "adam-epsilon",
    "l2-weight-decay",
    "label-shape",
    "same-padding",
    "tf32-matmul",
    "gpu-nondeterminism",
    "batchnorm-momentum",
    "init-defaults",
)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    names = sys.argv[2:] or BUILTIN
    for w in names:
        f = out / f"{w}.json"
        if not f.exists():
            t = time.perf_counter()
            proc = subprocess.run(
                [sys.executable, "-m", "paritybench", "localize", "--workload", w, "--out", str(f)],
                capture_output=True,
                text=True,
            )
            print(f"# {w}: localize {time.perf_counter() - t:.1f} s, exit {proc.returncode}", flush=True)
            if proc.returncode != 0:
                print(proc.stderr[-1500:], flush=True)
                continue
        rec = json.loads(f.read_text())
        for p in rec["pairs"]:
            finite = [c for c in p["checks"] if c["ratio"] is not None and math.isfinite(c["ratio"])]
            top = max(finite, key=lambda c: c["ratio"]) if finite else None
            first = p["first"]
            fr = "-" if first is None else ("non-finite" if first["ratio"] is None else f"{first['ratio']:.3g}")
            where = "-" if top is None else f"{top['step']} {top['phase']} {top['tensor']}"
            print(
                f"{w}\t{p['a']}\t{'parts' if first else 'never'}\t{fr}\t"
                f"{'-' if top is None else format(top['ratio'], '.3g')}\t{where}",
                flush=True,
            )
        for s in rec.get("skipped", []):
            print(f"{w}\tskipped: {s}", flush=True)


if __name__ == "__main__":
    main()
