"""issue 19: `make bench-all`'s wall time against `make bench`'s, side by side in one invocation (not a test;
target: bench-all at most 5x bench).

Usage: .venv/bin/python bench/bench_all_ratio.py [--repeat 2] [--out results/timing/bench-all-ratio.json]
Each round runs ``paritybench run --no-weights`` (the seed preset, every arm: what ``make bench`` runs) and then
``paritybench run --workload all --no-weights`` (what ``make bench-all`` runs), each in a fresh process (imports,
worker start-up and compiles included, as a user sees them), and records each one's wall time and the CPU time
(user + system) of it and its children. The ratio is taken of the summed wall times (and of the summed CPU
times); bench-all's per-workload seconds come from its ``index.json``. The load average before each command is
recorded: the ratio means something only on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchutil import ratio_record, side_by_side, write_record

ROOT = Path(__file__).resolve().parents[1]


def _index(every: dict, tmp: str, i: int) -> None:
    """bench-all's per-workload seconds and statuses, from its index.json."""
    index = json.loads(Path(f"{tmp}/all{i}/index.json").read_text())
    every["workload_seconds"] = {w["workload"]: w["seconds"] for w in index["workloads"]}
    every["status"] = {w["workload"]: w["status"] for w in index["workloads"]}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the record here (JSON); default: print only")
    a = ap.parse_args()
    rounds, wall, cpu = side_by_side(
        a.repeat,
        ("bench", lambda tmp, i: ["run", "--no-weights", "--out", f"{tmp}/bench{i}.json"]),
        ("bench_all", lambda tmp, i: ["run", "--workload", "all", "--no-weights", "--out", f"{tmp}/all{i}"]),
        _index,
    )
    command = f"python bench/bench_all_ratio.py --repeat {a.repeat}"
    record = ratio_record("bench-all-ratio", ROOT, command, rounds, wall, cpu)
    print(f"bench-all / bench: {wall:.2f}x wall, {cpu:.2f}x CPU over {a.repeat} rounds")
    if a.out:
        write_record(record, a.out)


if __name__ == "__main__":
    main()
