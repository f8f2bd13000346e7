"""issue 19: wall time of ``paritybench explain`` against ``paritybench localize`` on the same pairs (not a test;
target: explain at most 3x localize).

Usage: .venv/bin/python bench/explain_speed.py [--workload seed-bce] [--arms a,b,...] [--repeat 2]
    [--out results/timing/explain-vs-localize.json]
Each command runs in a fresh process (imports, worker start-up and compiles included, as a user sees them), the
two alternating ``--repeat`` times; each run's wall time, the CPU time (user + system) of it and its children and
the load average before it are recorded, and the ratio is taken of the summed wall times (and of the summed CPU
times). Default: every pair of the seed workload (each arm against reference-f64), the pairs ``localize``
compares with no ``--arms``. The ratio means something only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchutil import ratio_record, side_by_side, write_record

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="seed-bce")
    ap.add_argument("--arms", default=None, help="comma-separated arms (default: every arm vs the reference)")
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the record here (JSON); default: print only")
    a = ap.parse_args()
    arms = ["--arms", a.arms] if a.arms else []
    rounds, wall, cpu = side_by_side(
        a.repeat,
        ("localize", lambda tmp, i: ["localize", "--workload", a.workload, *arms, "--out", f"{tmp}/l{i}.json"]),
        ("explain", lambda tmp, i: ["explain", "--workload", a.workload, *arms, "--out", f"{tmp}/e{i}.json"]),
    )
    command = f"python bench/explain_speed.py --workload {a.workload} --repeat {a.repeat}"
    command += f" --arms {a.arms}" if a.arms else ""
    pairs = a.arms or "every arm against the reference"
    record = ratio_record("explain-vs-localize", ROOT, command, rounds, wall, cpu, workload=a.workload, pairs=pairs)
    print(f"explain / localize: {wall:.2f}x wall, {cpu:.2f}x CPU over {a.repeat} rounds")
    if a.out:
        write_record(record, a.out)


if __name__ == "__main__":
    main()
