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
import datetime
import json
import os
import tempfile
from pathlib import Path

from benchutil import commit_label, cpu_label, timed_record, write_record

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--out", default=None, help="write the record here (JSON); default: print only")
    a = ap.parse_args()
    rounds = []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeat):
            bench = timed_record(["run", "--no-weights", "--out", f"{tmp}/bench{i}.json"])
            every = timed_record(["run", "--workload", "all", "--no-weights", "--out", f"{tmp}/all{i}"])
            index = json.loads(Path(f"{tmp}/all{i}/index.json").read_text())
            every["workload_seconds"] = {w["workload"]: w["seconds"] for w in index["workloads"]}
            every["status"] = {w["workload"]: w["status"] for w in index["workloads"]}
            rounds.append({"bench": bench, "bench_all": every})
            print(
                f"round {i + 1}: bench {bench['wall_seconds']:.1f} s ({bench['cpu_seconds']:.1f} s CPU), bench-all"
                f" {every['wall_seconds']:.1f} s ({every['cpu_seconds']:.1f} s CPU):"
                f" {every['wall_seconds'] / bench['wall_seconds']:.2f}x wall",
                flush=True,
            )
    wall = sum(r["bench_all"]["wall_seconds"] for r in rounds) / sum(r["bench"]["wall_seconds"] for r in rounds)
    cpu = sum(r["bench_all"]["cpu_seconds"] for r in rounds) / sum(r["bench"]["cpu_seconds"] for r in rounds)
    record = {
        "kind": "bench-all-ratio",
        "format_version": "1.0",
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit_label(ROOT),
        "cpu": cpu_label(),
        "logical_cpus": os.cpu_count(),
        "command": "python bench/bench_all_ratio.py --repeat " + str(a.repeat),
        "rounds": rounds,
        "wall_ratio": round(wall, 3),
        "cpu_ratio": round(cpu, 3),
    }
    print(f"bench-all / bench: {wall:.2f}x wall, {cpu:.2f}x CPU over {a.repeat} rounds")
    if a.out:
        write_record(record, a.out)


if __name__ == "__main__":
    main()
