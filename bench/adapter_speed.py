"""issue 18: wall time of the seed workload's model run through the adapters (bench/own_seed: the user's own
JAX apply with optax.sgd, Keras factory compiled with SGD, torch module) against the built-in seed workload with
the same arms (a JAX arm with the BCE from logits, keras-tensorflow, a native torch arm, the float64 arbiter).
Not a test; target: the adapters at most 1.2x the built-in workload.

Usage: .venv/bin/python bench/adapter_speed.py [--repeat 3]
Each ``paritybench run`` is a fresh process (imports, worker start-up and compiles included, as a user sees
them), the two alternating ``--repeat`` times; the ratio is taken of the medians, in one run of this script.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from benchutil import timed_command as timed

OWN = str(Path(__file__).resolve().parent / "own_seed" / "workload.py")
BUILT_IN_ARMS = "jax-logits,keras-tensorflow,torch-bce-logits,reference-f64"  # own_workload's jax, keras, torch, f64


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args()
    built, own = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(a.repeat):
            out = ["--no-weights", "--out"]
            built.append(timed(["run", "--workload", "seed-bce", "--arms", BUILT_IN_ARMS, *out, f"{tmp}/b{i}.json"]))
            own.append(timed(["run", "--workload", OWN, *out, f"{tmp}/o{i}.json"]))
    tb, to = statistics.median(built), statistics.median(own)
    print(
        f"seed-bce ({BUILT_IN_ARMS}) {tb:.1f} s, through the adapters (bench/own_seed) {to:.1f} s: ratio "
        f"{to / tb:.2f} (runs: built-in {', '.join(f'{x:.1f}' for x in built)}; "
        f"adapters {', '.join(f'{x:.1f}' for x in own)})"
    )


if __name__ == "__main__":
    main()
