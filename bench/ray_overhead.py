"""Ray's overhead per case: one sweep locally, then the same sweep through a local Ray with two workers.

    .venv/bin/python bench/ray_overhead.py [--seeds 0-2] [--windows 0,1000] [--ray-tasks 2] [--json FILE]

Each sweep is a fresh ``paritybench sweep`` process, timed wall clock from start to
artifact; the script checks the two artifacts' runs are bit-identical and prints
per-case figures. Not a timed test: the numbers depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def sweep(args: list[str], out: Path) -> tuple[float, dict]:
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "paritybench", "sweep", *args, "--out", str(out)], capture_output=True, text=True
    )
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        sys.exit(f"sweep failed: {proc.stderr[-2000:]}")
    return wall, json.loads(out.read_text())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0-2")
    ap.add_argument("--windows", default="0,1000")
    ap.add_argument("--arms", default="", help="default: every arm")
    ap.add_argument("--ray-tasks", type=int, default=2)
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    grid = ["--seeds", a.seeds, "--windows", a.windows] + (["--arms", a.arms] if a.arms else [])
    with tempfile.TemporaryDirectory() as d:
        local_wall, local = sweep(grid, Path(d) / "local.json")
        ray_wall, ray = sweep([*grid, "--engine", "ray", "--ray-tasks", str(a.ray_tasks)], Path(d) / "ray.json")
    cases = len(local["config"]["seeds"]) * len(local["config"]["windows"])

    def strip(art):
        return [{k: v for k, v in r.items() if k not in ("info", "node")} for r in art["runs"]]

    result = {
        "grid": {
            "seeds": a.seeds,
            "windows": a.windows,
            "arms": local["config"]["arms"],
            "cases": cases,
            "runs": len(local["runs"]),
        },
        "cpu": local["environment"]["cpu"]["model"],
        "logical_cpus": local["environment"]["cpu"]["logical_cpus"],
        "bit_identical": strip(local) == strip(ray),
        "local": {
            "wall_seconds": local_wall,
            "per_case_seconds": local_wall / cases,
            "train_seconds": local["timing"]["train_seconds"],
            "total_seconds": local["timing"]["total_seconds"],
        },
        "ray": {
            "wall_seconds": ray_wall,
            "per_case_seconds": ray_wall / cases,
            "tasks": a.ray_tasks,
            "train_seconds": ray["timing"]["train_seconds"],
            "compile_seconds": ray["timing"]["compile_seconds"],
            "total_seconds": ray["timing"]["total_seconds"],
        },
        "ray_overhead_per_case_seconds": (ray_wall - local_wall) / cases,
    }
    print(json.dumps(result, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
