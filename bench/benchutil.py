"""Helpers shared by the timing suites: numerics read-backs, device labels, syncs.

Imports no framework at module level: ``bench/conftest.py`` imports this module
before it sets the numerics flags, and the flags must precede every framework.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from paritybench.experiment import flags

OPTS = flags.NumericsOptions()  # the defaults of `paritybench run`: the timed programs are the arms'
_READ_BACKS: dict[str, dict] = {}


def workload():
    """The workload the suites time (``run_timing.py --workload``, via PARITYBENCH_WORKLOAD; default seed-bce)."""
    import os

    from paritybench import workloads

    return workloads.load(os.environ.get("PARITYBENCH_WORKLOAD") or None)


def timed_arm(kind: str):
    """The workload's arm the suites time: its fix for the JAX step, its first Keras arm on a backend."""
    w = workload()
    if kind == "jax":
        return w.arm(w.fix)
    return next(a for a in w.arms if a.process == kind)


def read_back(framework: str) -> dict:
    """Configure ``framework``'s numerics as ``paritybench run`` does, once; recorded in machine_info."""
    if framework not in _READ_BACKS:
        _READ_BACKS[framework] = flags.read_back(framework, OPTS)
    return _READ_BACKS[framework]


def read_backs() -> dict[str, dict]:
    """Every read-back taken in this process so far."""
    return dict(_READ_BACKS)


def slug(text: str) -> str:
    """Lower-case words joined by '-', for file names."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower().replace("(r)", "").replace("(tm)", "")).strip("-")


def cpu_label() -> str:
    """The CPU as the report names it next to absolute times."""
    from paritybench.experiment.environment import cpu_info

    info = cpu_info()
    return f"cpu: {info['model']} ({info['logical_cpus']} logical)"


def machine_slug() -> str:
    """``[<accelerator>-]<cpu model>-<n>cpu``: the stem of a timing file's name."""
    from paritybench.experiment.environment import cpu_info

    info = cpu_info()
    name = slug(info["model"]) + f"-{info['logical_cpus']}cpu"
    if "jax" in _READ_BACKS:  # JAX's default device says whether the suites ran on an accelerator
        import jax

        dev = jax.devices()[0]
        if dev.platform != "cpu":
            name = slug(dev.device_kind) + "-" + name
    return name


def jax_device_label() -> str:
    """Where JAX's default device computes: the CPU model, or the accelerator's kind."""
    import jax

    dev = jax.devices()[0]
    return cpu_label() if dev.platform == "cpu" else f"{dev.platform}: {dev.device_kind}"


def numpy_blas() -> dict:
    """The BLAS NumPy was built with (the float64 reference and the NumPy matmuls use it)."""
    import numpy as np

    try:
        cfg = np.show_config(mode="dicts")
        return dict(cfg.get("Build Dependencies", {}).get("blas", {}))
    except Exception as exc:  # recorded, never fatal: show_config's layout is not a stable API
        return {"error": f"{type(exc).__name__}: {exc}"}


def time_once(fn: Callable[[], Any]) -> float:
    """Seconds of one call (compiles, first calls): kept apart from the timed rounds."""
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def timed_record(args: list[str]) -> dict:
    """``python -m paritybench ARGS`` in a fresh process (imports, worker start-up and compiles included, as a user
    sees them): its wall seconds, the CPU seconds (user + system) of it and its children, and the load average just
    before it; SystemExit with the end of its stderr where the command fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load = os.getloadavg()[0]
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "paritybench", *args], capture_output=True, text=True)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_seconds": round(wall, 2), "cpu_seconds": round(cpu, 2), "load_average_before": round(load, 2)}


def commit_label(root) -> str:
    """The checked-out commit, with ``-dirty`` where src/ or bench/ differ from it (the measured code is then not
    the commit's)."""
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=root)
    changed = subprocess.run(
        ["git", "status", "--porcelain", "--", "src", "bench"], capture_output=True, text=True, cwd=root
    )
    return (head.stdout.strip() or "unknown") + ("-dirty" if changed.stdout.strip() else "")


def side_by_side(
    repeat: int,
    base: tuple[str, Callable[[str, int], list[str]]],
    other: tuple[str, Callable[[str, int], list[str]]],
    after_other: Callable[[dict, str, int], None] | None = None,
) -> tuple[list[dict], float, float]:
    """Two paritybench commands timed alternately ``repeat`` times (``timed_record``), each given a temporary
    folder and the round: ``base`` = (key, round -> arguments), ``other`` likewise; ``after_other`` may add to the
    other's record from its outputs. Returns the rounds and the ratios other / base of the summed wall and CPU
    times."""
    rounds = []
    (bk, bargs), (ok, oargs) = base, other
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(repeat):
            b = timed_record(bargs(tmp, i))
            o = timed_record(oargs(tmp, i))
            if after_other is not None:
                after_other(o, tmp, i)
            rounds.append({bk: b, ok: o})
            print(
                f"round {i + 1}: {bk.replace('_', '-')} {b['wall_seconds']:.1f} s ({b['cpu_seconds']:.1f} s CPU),"
                f" {ok.replace('_', '-')} {o['wall_seconds']:.1f} s ({o['cpu_seconds']:.1f} s CPU):"
                f" {o['wall_seconds'] / b['wall_seconds']:.2f}x wall",
                flush=True,
            )
    wall = sum(r[ok]["wall_seconds"] for r in rounds) / sum(r[bk]["wall_seconds"] for r in rounds)
    cpu = sum(r[ok]["cpu_seconds"] for r in rounds) / sum(r[bk]["cpu_seconds"] for r in rounds)
    return rounds, wall, cpu


def ratio_record(kind: str, root, command: str, rounds: list[dict], wall: float, cpu: float, **extra) -> dict:
    """The record a side-by-side benchmark writes: what, when, on which commit and CPU, the rounds and ratios."""
    return {
        "kind": kind,
        "format_version": "1.0",
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "commit": commit_label(root),
        "cpu": cpu_label(),
        "logical_cpus": os.cpu_count(),
        "command": command,
        **extra,
        "rounds": rounds,
        "wall_ratio": round(wall, 3),
        "cpu_ratio": round(cpu, 3),
    }


def write_record(record: dict, out) -> None:
    """Write ``record`` as JSON to ``out`` whole or not at all (a temporary file beside it, then a rename)."""
    out = Path(out)
    tmp_out = out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(record, indent=1) + "\n")
    tmp_out.replace(out)
    print(f"written: {out}")


def timed_command(args: list[str]) -> float:
    """Wall seconds of ``python -m paritybench ARGS`` in a fresh process (imports, worker start-up and compiles
    included, as a user sees them); SystemExit with the end of its stderr where the command fails."""
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "paritybench", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - t
