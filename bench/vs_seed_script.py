"""`make bench` against the seed question's own script, in one run (a benchmark, never a test).

    .venv/bin/python bench/vs_seed_script.py PATH/TO/seed_script.py [--rounds 2]

The peer script (the question's two arms: a Python loop of jitted JAX steps and Keras `fit`
once per step) is not part of this project; pass its path. Each round runs, one after the
other on the same machine: the peer script, `paritybench run` (every arm, full diagnostics:
what `make bench` runs) and `paritybench run --arms jax-seed-stable,keras-tensorflow` (the
peer's two arms). It prints each wall time, the ratios to the peer's, and where paritybench's
time went (from its artifact's `timing`: per process, compile, training, diagnostics).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _timed(cmd: list[str], env: dict) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("peer", help="the seed question's script (seed_script.py)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (default %(default)s)")
    args = p.parse_args(argv)
    peer = Path(args.peer).resolve()
    if not peer.is_file():
        sys.exit(f"{peer}: no such file: pass the path of the seed question's script")
    env = {**os.environ, "PARTITIONABLE": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    with tempfile.TemporaryDirectory(prefix="pb-vs-seed-") as tmp:
        for r in range(args.rounds):
            t_peer = _timed([sys.executable, str(peer)], env)
            out_all = Path(tmp) / f"all-{r}.json"
            t_all = _timed([sys.executable, "-m", "paritybench", "run", "--no-weights", "--out", str(out_all)], env)
            out_two = Path(tmp) / f"two-{r}.json"
            t_two = _timed(
                [
                    sys.executable,
                    "-m",
                    "paritybench",
                    "run",
                    "--no-weights",
                    "--arms",
                    "jax-seed-stable,keras-tensorflow",
                    "--out",
                    str(out_two),
                ],
                env,
            )
            timing = json.loads(out_all.read_text())["timing"]
            rows.append({"peer": t_peer, "all_arms": t_all, "two_arms": t_two, "timing": timing})
            print(
                f"round {r + 1}: peer {t_peer:.1f} s, paritybench every arm {t_all:.1f} s "
                f"({t_all / t_peer:.2f}x), its two arms {t_two:.1f} s ({t_two / t_peer:.2f}x)",
                flush=True,
            )
            tm = timing
            print(
                "  where the time went (every arm): total {:.1f} s; main process {:.1f} s; {}; compile {:.1f} s, "
                "training {:.1f} s, diagnostics {:.1f} s".format(
                    tm["total_seconds"],
                    tm["process_seconds"].get("main", 0.0),
                    ", ".join(f"{k} {v:.1f} s" for k, v in tm["process_seconds"].items() if k != "main"),
                    tm["compile_seconds"],
                    tm["train_seconds"],
                    tm["diagnostics_seconds"],
                ),
                flush=True,
            )
    best = min(rows, key=lambda x: x["all_arms"])
    print(json.dumps({"rounds": rows, "best_ratio_all_arms": best["all_arms"] / best["peer"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
