"""`make bench` against the seed question's own script, in one run (a benchmark, never a test).

    .venv/bin/python bench/vs_seed_script.py PATH/TO/seed_script.py [--rounds 2]

The peer script (the question's two arms: a Python loop of jitted JAX steps and Keras `fit`
once per step) is not part of this project; pass its path. Each round runs, one after the
other on the same machine: the peer script, `paritybench run` (every arm, full diagnostics:
what `make bench` runs) and `paritybench run --arms jax-seed-stable,keras-tensorflow` (the
peer's two arms). It prints each wall time and CPU time (user + system, of each command and every
process it started), the ratios to the peer's, and where paritybench's time went (from its artifact's
`timing`: per process, compile, training, diagnostics). On a shared machine, compare the ratios summed
over alternating rounds, and see the first line: whether imports read cached bytecode (without it
every process compiles every module it imports, every run) and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _cpu() -> float:
    """CPU time (user + system) of every finished child and their waited-for children (the Keras workers)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _timed(cmd: list[str], env: dict) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the command and every process it started)."""
    t, c = time.perf_counter(), _cpu()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return time.perf_counter() - t, _cpu() - c


def _bytecode_cached() -> bool:
    """Whether imports here read cached bytecode: with PYTHONDONTWRITEBYTECODE set and no __pycache__ in the
    environment (uv installs without compiling), every process compiles every module it imports, each run."""
    import numpy

    cache = Path(sys.pycache_prefix) if sys.pycache_prefix else Path(numpy.__file__).parent / "__pycache__"
    return cache.is_dir() and any(cache.iterdir())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("peer", help="the seed question's script (seed_script.py)")
    p.add_argument("--rounds", type=int, default=2, help="alternating rounds (default %(default)s)")
    p.add_argument(
        "--baseline-src",
        help="the src/ folder of another paritybench checkout (e.g. `git archive REV src | tar -x -C DIR`): each "
        "round also runs its every-arm and two-arm jobs (the order of the two checkouts swapped every round), so a "
        "change is measured before and after side by side",
    )
    p.add_argument(
        "--two-arms-only",
        action="store_true",
        help="skip the every-arm job: only the peer and the two-arm job (a quick check of the peer's own arms)",
    )
    args = p.parse_args(argv)
    peer = Path(args.peer).resolve()
    if not peer.is_file():
        sys.exit(f"{peer}: no such file: pass the path of the seed question's script")
    env = {**os.environ, "PARTITIONABLE": "0", "TF_CPP_MIN_LOG_LEVEL": "3"}
    base_src = str(Path(args.baseline_src).resolve()) if args.baseline_src else ""
    rows = []
    print(
        f"bytecode cached: {_bytecode_cached()} (PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE')}, "
        f"PYTHONPYCACHEPREFIX={sys.pycache_prefix}); CPUs: {os.cpu_count()}; load average at start: "
        + " ".join(f"{v:.1f}" for v in os.getloadavg()),
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="pb-vs-seed-") as tmp:
        for r in range(args.rounds):
            t_peer, c_peer = _timed([sys.executable, str(peer)], env)
            # with a baseline, each job runs in both checkouts, the order swapped every round
            first = ["base", "this"] if args.baseline_src and r % 2 else ["this", "base"]
            got: dict[tuple[str, str], tuple[float, float]] = {}
            for job, arms in (("all_arms", []), ("two_arms", ["--arms", "jax-seed-stable,keras-tensorflow"])):
                if job == "all_arms" and args.two_arms_only:
                    continue
                for who in first if args.baseline_src else ["this"]:
                    run_env = env if who == "this" else {**env, "PYTHONPATH": base_src}
                    out = Path(tmp) / f"{who}-{job}-{r}.json"
                    cmd = [sys.executable, "-m", "paritybench", "run", "--no-weights", *arms, "--out", str(out)]
                    got[(who, job)] = _timed(cmd, run_env)
            nan = (float("nan"), float("nan"))  # a job not run (--two-arms-only)
            t_all, c_all = got.get(("this", "all_arms"), nan)
            t_two, c_two = got[("this", "two_arms")]
            timing = json.loads(
                (Path(tmp) / f"this-{'two' if args.two_arms_only else 'all'}_arms-{r}.json").read_text()
            )["timing"]
            rows.append(
                {
                    "peer": t_peer,
                    "all_arms": t_all,
                    "two_arms": t_two,
                    "cpu": {"peer": c_peer, "all_arms": c_all, "two_arms": c_two},
                    "timing": timing,
                }
            )
            if args.baseline_src:
                (t_base, c_base), (t_base2, c_base2) = got.get(("base", "all_arms"), nan), got[("base", "two_arms")]
                rows[-1].update(baseline_all_arms=t_base, baseline_two_arms=t_base2)
                rows[-1]["cpu"].update(baseline_all_arms=c_base, baseline_two_arms=c_base2)
                print(
                    f"  baseline ({args.baseline_src}): every arm {t_base:.1f} s ({t_base / t_peer:.2f}x), "
                    f"CPU {c_base:.1f} s ({c_base / c_peer:.2f}x); two arms {t_base2:.1f} s "
                    f"({t_base2 / t_peer:.2f}x), CPU {c_base2:.1f} s ({c_base2 / c_peer:.2f}x)",
                    flush=True,
                )
            print(
                f"round {r + 1}: peer {t_peer:.1f} s, paritybench every arm {t_all:.1f} s "
                f"({t_all / t_peer:.2f}x), its two arms {t_two:.1f} s ({t_two / t_peer:.2f}x); CPU time: peer "
                f"{c_peer:.1f} s, every arm {c_all:.1f} s ({c_all / c_peer:.2f}x), two arms {c_two:.1f} s "
                f"({c_two / c_peer:.2f}x); load average now {os.getloadavg()[0]:.1f}",
                flush=True,
            )
            tm = timing
            print(
                "  where the time went ({}): total {:.1f} s; main process {:.1f} s; {}; compile {:.1f} s, "
                "training {:.1f} s, diagnostics {:.1f} s".format(
                    "two arms" if args.two_arms_only else "every arm",
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
    total = {k: sum(r[k] for r in rows) for k in ("peer", "all_arms", "two_arms")}
    cpu = {k: sum(r["cpu"][k] for r in rows) for k in ("peer", "all_arms", "two_arms")}
    summary = {
        "best_ratio_all_arms": best["all_arms"] / best["peer"],
        "ratio_all_arms_summed": total["all_arms"] / total["peer"],
        "ratio_two_arms_summed": total["two_arms"] / total["peer"],
        "cpu_ratio_all_arms_summed": cpu["all_arms"] / cpu["peer"],
        "cpu_ratio_two_arms_summed": cpu["two_arms"] / cpu["peer"],
    }
    if args.baseline_src:
        for job in ("all_arms", "two_arms"):
            summary[f"ratio_baseline_{job}_summed"] = sum(r[f"baseline_{job}"] for r in rows) / total["peer"]
            summary[f"cpu_ratio_baseline_{job}_summed"] = sum(r["cpu"][f"baseline_{job}"] for r in rows) / cpu["peer"]
    print(json.dumps({"rounds": rows, **summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
