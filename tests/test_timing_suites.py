"""The timing suites run: every benchmark once in quick mode (3 rounds), in fresh processes.

Nothing here asserts a time: it checks that ``bench/run_timing.py`` writes one
timing file with the expected groups, labels and machine_info for the installed
backends, and that a missing backend is recorded with its reason.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from paritybench import timing

from .conftest import ROOT, run_cli

CORE = {
    "xla-fwd",
    "xla-bwd",
    "xla-pair",
    "xla-pair-x10",
    "jax-grad",
    "jax-sgd",
    "jax-scan",
    "numpy-f32-fwd",
    "numpy-f32-bwd",
    "numpy-f32-pair",
    "numpy-f64-pair",
    "reference-f64-sgd",
}
KERAS = {
    "tensorflow": {
        "keras-tensorflow-fit",
        "keras-tensorflow-train_on_batch",
        "keras-tensorflow-train_function",
        "tensorflow-pair",
    },
    "jax": {"keras-jax-fit", "keras-jax-train_on_batch", "keras-jax-train_function"},
    "torch": {"keras-torch-fit", "keras-torch-train_on_batch", "keras-torch-train_function", "torch-pair"},
}


def run_timing(*args: str, timeout: int = 600):
    return subprocess.run(
        [sys.executable, "bench/run_timing.py", *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@pytest.fixture(scope="module")
def quick_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("timing") / "quick.json"
    proc = run_timing("--quick", "--no-report", "--out", str(out))
    assert proc.returncode == 0, (proc.stdout[-3000:], proc.stderr[-3000:])
    return out


@pytest.mark.slow
def test_quick_run_writes_every_installed_suite(quick_file):
    doc = json.loads(quick_file.read_text())
    labels = {b["extra_info"]["label"]: b for b in doc["benchmarks"]}
    installed = {b for b in KERAS if importlib.util.find_spec(b) is not None}
    expected = CORE.union(*(KERAS[b] for b in installed))
    assert set(labels) == expected
    assert {b["group"] for b in doc["benchmarks"]} == {"matmul-f32", "matmul-f64", "step", "train-10-steps"}
    assert all(b["stats"]["rounds"] == 3 for b in doc["benchmarks"])
    # compile time measured apart from the rounds, never in them
    assert labels["jax-grad"]["extra_info"]["compile_seconds"] > 0
    assert labels["jax-scan"]["extra_info"]["steps_per_call"] == 10
    assert labels["jax-grad"]["extra_info"]["blas"] == "xla-pair-x10" and "xla-pair-x10" in labels
    pb = doc["machine_info"]["paritybench"]
    assert pb["quick"] is True and pb["machine"]
    assert pb["fingerprint"]["packages"]["jax"] and pb["fingerprint"]["numerics_env"]["JAX_DEFAULT_MATMUL_PRECISION"]
    assert pb["frameworks"]["jax"]["jax_default_matmul_precision"]
    assert set(pb["suites"]) == {"core"} | {f"keras-{b}" for b in installed}
    for b in set(KERAS) - installed:
        assert "not installed" in pb["skipped"][f"keras-{b}"]
    if "tensorflow" in installed:
        assert "op_determinism" in pb["frameworks"]["tensorflow"]


@pytest.mark.slow
def test_timing_command_reads_the_quick_file(quick_file, tmp_path):
    tf = timing.load(quick_file)
    assert tf.quick and all(
        r.value is not None for r in timing.ratios(tf) if r.numerator in tf.figures and r.denominator in tf.figures
    )
    proc = run_cli("timing", str(quick_file), "--plot", str(tmp_path / "q.png"))
    assert proc.returncode == 0, proc.stderr
    assert "QUICK MODE" in proc.stdout and (tmp_path / "q.png").stat().st_size > 0


def test_runner_refuses_bad_arguments_before_running(tmp_path):
    existing = tmp_path / "t.json"
    existing.write_text("{}")
    proc = run_timing("--out", str(existing), timeout=60)
    assert proc.returncode == 2 and "already exists" in proc.stderr and existing.read_text() == "{}"
    proc = run_timing("--backends", "mxnet", "--out", str(tmp_path / "u.json"), timeout=60)
    assert proc.returncode == 2 and "valid backends are" in proc.stderr and not (tmp_path / "u.json").exists()
