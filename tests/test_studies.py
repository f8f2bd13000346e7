"""Sweeps (resumable) and the sensitivity study, run as a user would."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from paritybench.experiment import weights as model
from paritybench.studies.checkpoint import Checkpoint, checkpoint_path
from paritybench.studies.grid import perturb
from paritybench.workloads.seed_bce import jax_model

from .conftest import ROOT, by_arm, run_cli

SWEEP = [
    "sweep",
    "--seeds",
    "0-1",
    "--windows",
    "0,1000",
    "--steps",
    "3",
    "--arms",
    "jax-logits,jax-seed-stable,keras-tensorflow,reference-f64",
]


def _content(artifact):
    """What must not depend on an interruption: every run but its timings."""
    return [{k: v for k, v in r.items() if k != "info"} for r in artifact["runs"]]


@pytest.fixture(scope="module")
def full_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweep") / "full.json"
    proc = run_cli(*SWEEP, "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.mark.slow
def test_sweep_summarises_every_arm(full_sweep):
    s = full_sweep["summary"]
    assert set(s) == {"jax-logits", "jax-seed-stable", "keras-tensorflow", "reference-f64"}
    assert s["jax-logits"]["final_accuracy"]["count"] == 4
    assert s["jax-logits"]["paired_diff_vs_reference"]["max"] <= 0.001
    # after 3 steps the clipped loss has barely moved off chance on raw pixels
    assert s["jax-seed-stable"]["near_chance"]["count"] >= 3
    assert len(full_sweep["runs"]) == 16 and full_sweep["kind"] == "sweep"


@pytest.mark.slow
def test_interrupted_sweep_resumes_to_the_same_content(tmp_path, full_sweep):
    out = tmp_path / "resumed.json"
    ckpt = checkpoint_path(out)
    proc = subprocess.Popen(
        [sys.executable, "-m", "paritybench", *SWEEP, "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.time() + 300
    # kill once some runs are checkpointed but before the sweep can finish
    while time.time() < deadline and proc.poll() is None:
        if ckpt.exists() and len(ckpt.read_text().splitlines()) >= 1 + 9:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the sweep finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    _, done = Checkpoint.read(ckpt)
    assert 9 <= len(done) < 16
    res = run_cli("sweep", "--resume", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "resuming" in res.stdout
    resumed = json.loads(out.read_text())
    assert not ckpt.exists()
    assert _content(resumed) == _content(full_sweep)
    assert resumed["summary"] == full_sweep["summary"]


def test_resume_without_checkpoint_is_one_line(tmp_path):
    res = run_cli("sweep", "--resume", str(tmp_path / "nothing.json"))
    assert res.returncode == 2 and "no checkpoint" in res.stderr and res.stderr.count("\n") == 1


def test_checkpoint_ignores_a_cut_last_line(tmp_path):
    p = tmp_path / "x.json.partial.jsonl"
    ck = Checkpoint(p, {"config": {}})
    ck.append({"arm": "a", "seed": 0, "window_start": 0})
    with open(p, "a") as fh:
        fh.write('{"arm": "b", "se')
    header, runs = Checkpoint.read(p)
    assert header == {"config": {}} and [r["arm"] for r in runs] == ["a"]


def test_perturbation_moves_weights_by_about_one_ulp():
    w = jax_model.init(0)
    p = perturb(w, 1e-7, 0, 1)
    for k in w:
        ulps = np.abs(p[k].view(np.int32).astype(np.int64) - w[k].view(np.int32).astype(np.int64))
        nonzero = w[k] != 0
        assert ulps[nonzero].max() <= 2
        assert np.mean(ulps[nonzero] >= 1) > 0.99
    assert model.weights_sha256(perturb(w, 1e-7, 0, 1)) == model.weights_sha256(p)
    assert model.weights_sha256(perturb(w, 1e-7, 0, 2)) != model.weights_sha256(p)


@pytest.mark.slow
def test_sensitivity_classes_on_the_seed_preset(tmp_path):
    out = tmp_path / "sens.json"
    proc = run_cli(
        "sensitivity", "--k", "8", "--arms", "jax-naive,jax-logits,keras-tensorflow,jax-seed-stable", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = json.loads(out.read_text())
    assert a["classes"] == {
        "jax-naive": "stable",
        "jax-seed-stable": "chaotic",
        "jax-logits": "stable",
        "keras-tensorflow": "stable",
    }
    # every copy of the naive loss ends with NaN weights: the spread is NaN, recorded, not a crash
    assert a["sensitivity"]["jax-naive"]["max_weight_diff_vs_copy0"] == "nan"
    assert a["sensitivity"]["jax-seed-stable"]["correct_range"] > 10
    assert a["sensitivity"]["jax-logits"]["max_weight_diff_vs_copy0"] < 1e-4
    assert len(by_arm(a)) == 4 and len(a["runs"]) == 32
