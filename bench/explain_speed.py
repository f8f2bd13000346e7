"""issue 19: wall time of ``paritybench explain`` against ``paritybench localize`` on the same pairs (not a test;
target: explain at most 3x localize).

Usage: .venv/bin/python bench/explain_speed.py [--workload seed-bce] [--arms a,b,...] [--repeat 1]
Each command runs in a fresh process (imports and compiles included, as a user sees them), the two alternating
``--repeat`` times; the ratio is taken of the medians. Default: every pair of the seed workload (each arm
against reference-f64), the pairs ``localize`` compares with no ``--arms``.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchutil import timed_command as timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="seed-bce")
    ap.add_argument("--arms", default=None, help="comma-separated arms (default: every arm vs the reference)")
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    arms = ["--arms", a.arms] if a.arms else []
    loc, exp = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeat):
            loc.append(timed(["localize", "--workload", a.workload, *arms, "--out", str(Path(tmp) / f"l{i}.json")]))
            exp.append(timed(["explain", "--workload", a.workload, *arms, "--out", str(Path(tmp) / f"e{i}.json")]))
    tl, te = statistics.median(loc), statistics.median(exp)
    print(
        f"{a.workload} {a.arms or 'every arm vs the reference'}: localize {tl:.1f} s, explain {te:.1f} s, "
        f"ratio {te / tl:.2f} (runs: localize {', '.join(f'{x:.1f}' for x in loc)}; "
        f"explain {', '.join(f'{x:.1f}' for x in exp)})"
    )


if __name__ == "__main__":
    main()
