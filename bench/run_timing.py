"""Run the timing suites and write one timing file: ``make bench-timing``.

One pytest process for the JAX and NumPy suites (``core``), then one per Keras
backend (Keras fixes its backend at import), each writing pytest-benchmark's
``--benchmark-json``; the parts are merged (``paritybench.timing.merge_parts``)
into ``results/timing/<machine>-<UTC time>.json``, written to a temp file and
renamed, and the report is printed. A backend whose framework is not installed
is skipped with the reason, printed and recorded in the file.

    python bench/run_timing.py [--quick] [--backends tensorflow,jax,torch] [--out FILE] [--machine NAME]
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from paritybench.errors import ParityError

ROOT = Path(__file__).resolve().parents[1]
BACKEND_MODULES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}
TORCH_FIX = 'make setup EXTRAS="--extra cpu --extra torch"'


def _suites(backends: list[str]) -> list[tuple[str, str | None, list[str]]]:
    return [("core", None, ["bench/test_jax.py", "bench/test_numpy.py"])] + [
        (f"keras-{b}", b, ["bench/test_keras.py"]) for b in backends
    ]


def _run_suite(name: str, backend: str | None, files: list[str], out: Path, quick: bool) -> int:
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        *files,
        "-p",
        "no:cacheprovider",
        "-q",
        "-rs",
        "--benchmark-json",
        str(out),
        "--benchmark-columns=median,iqr,min,max,rounds",
        "--benchmark-sort=name",
    ]
    if quick:
        cmd.append("--timing-quick")
    # a suite is a pytest run of its own: started from a pytest-xdist worker (the tests), it must not inherit
    # that worker's PYTEST_XDIST_* identity (pytest_benchmark/session.py reads PYTEST_XDIST_WORKER and disables
    # benchmarking)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_XDIST_")}
    env["PARITYBENCH_TIMING_SUITE"] = name
    if backend:
        env["KERAS_BACKEND"] = backend
    print(f"== timing suite {name}: {' '.join(cmd[1:])}", flush=True)
    return subprocess.run(cmd, cwd=ROOT, env=env).returncode


def run(quick: bool, backends: list[str], out: Path | None, machine: str | None) -> Path:
    """Run every suite, merge, write atomically; the path written."""
    from paritybench.artifact import atomic_write_bytes
    from paritybench.timing import merge_parts

    if out is not None and out.exists():
        raise ParityError(f"{out} already exists: timing files are never overwritten; choose another --out")
    if out is not None and out.suffix != ".json":
        raise ParityError(f"--out {out}: a timing file is JSON; give a path ending in .json")
    parts, skipped = [], {}
    with tempfile.TemporaryDirectory(prefix="pb-timing-") as tmp:
        for name, backend, files in _suites(backends):
            module = BACKEND_MODULES.get(backend) if backend else None
            if module and importlib.util.find_spec(module) is None:
                fix = TORCH_FIX if module == "torch" else "make setup"
                skipped[name] = f"{module} is not installed: {fix}"
                print(f"== timing suite {name}: skipped: {skipped[name]}", flush=True)
                continue
            part = Path(tmp) / f"{name}.json"
            rc = _run_suite(name, backend, files, part, quick)
            if rc != 0:
                raise ParityError(
                    f"timing suite {name} failed (pytest exit {rc}): see its output above; no timing file was written",
                    exit_code=1,
                )
            if not part.exists():  # every benchmark skipped itself: pytest printed why (-rs)
                skipped[name] = "ran no benchmark: see the skip reasons in its output"
                continue
            parts.append((name, json.loads(part.read_text())))
    merged = merge_parts(parts, skipped)
    if machine:
        merged["machine_info"]["paritybench"]["machine"] = machine
    if out is None:
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        slug = merged["machine_info"]["paritybench"].get("machine", "machine")
        out = ROOT / "results" / "timing" / f"{slug}-{stamp}{'-quick' if quick else ''}.json"
    return atomic_write_bytes(out, json.dumps(merged, indent=1, allow_nan=False).encode() + b"\n")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 rounds each: proves the suites run; not a measurement")
    p.add_argument("--backends", default="tensorflow,jax,torch", help="Keras backends (default %(default)s)")
    p.add_argument("--out", default=None, help="timing file (default results/timing/<machine>-<time>.json)")
    p.add_argument("--machine", default=None, help="machine name in the file and its name (default: detected)")
    p.add_argument("--no-report", action="store_true", help="do not print the report after writing")
    p.add_argument(
        "--workload",
        default=None,
        help="the workload whose model and fix arm are timed (default seed-bce; any --workload spec)",
    )
    args = p.parse_args(argv)
    from rich.console import Console

    console = Console(width=None if sys.stdout.isatty() else 160)
    try:
        if args.workload:  # checked here (one line if unknown), handed to every suite's process
            from paritybench import workloads

            os.environ["PARITYBENCH_WORKLOAD"] = workloads.load(args.workload).origin.get("spec", args.workload)
        backends = [b.strip() for b in args.backends.split(",") if b.strip()]
        unknown = [b for b in backends if b not in BACKEND_MODULES]
        if unknown:
            raise ParityError(f"--backends {','.join(unknown)}: valid backends are {', '.join(BACKEND_MODULES)}")
        if args.out:  # before the benchmarks: a new regular .json file in a writable folder
            from paritybench.artifact.safeout import check_output_path

            check_output_path(args.out, what="--out", suffix=".json")
        path = run(args.quick, backends, Path(args.out) if args.out else None, args.machine)
        if not args.no_report:
            from paritybench.timing import load, print_report

            print_report(console, [load(path)])
        console.print(f"timing file: {path}")
    except ParityError as exc:
        print(f"run_timing: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
