"""issue 12: wall time of ``paritybench localize`` against ``paritybench run`` for the same arms (not a test).

Usage: .venv/bin/python bench/localize_vs_run.py [--workload seed-bce] [--arms a,b,...]
Each command runs once in a fresh process (imports and compiles included, as a user sees them).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from benchutil import timed_command as timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workload", default="seed-bce")
    ap.add_argument(
        "--arms",
        default="jax-naive,jax-seed-stable,jax-keras-clip,jax-keras-torch-clip,jax-logits,keras-tensorflow,keras-jax",
    )
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        # run trains the named arms and the reference (localize always evaluates the reference too)
        run_arms = a.arms + ",reference-f64"
        t_run = timed(
            ["run", "--workload", a.workload, "--arms", run_arms, "--no-weights", "--out", str(Path(tmp) / "run.json")]
        )
        t_loc = timed(["localize", "--workload", a.workload, "--arms", a.arms, "--out", str(Path(tmp) / "loc.json")])
    print(f"{a.workload} arms {a.arms}: run {t_run:.1f} s, localize {t_loc:.1f} s, ratio {t_loc / t_run:.2f}")


if __name__ == "__main__":
    main()
