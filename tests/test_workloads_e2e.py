"""Workloads end to end: the redesign keeps the seed's numbers, old artifacts stay readable,
softmax-ce reproduces each Keras backend's mechanism, and a user's own workload goes through
every command unchanged."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from .conftest import ROOT, run_cli

# The last commit before workloads: its seed preset is what the redesign must reproduce bit for bit.
PRE_REDESIGN = "a2592ec"
EXAMPLE = str(ROOT / "examples" / "tanh_adam.py")
BASELINES = ROOT / "results" / "baselines"


def _hashes(artifact: dict) -> dict[str, str]:
    return {r["arm"]: r["final_weights_sha256"] for r in artifact["runs"] if r["status"] == "ok"}


@pytest.mark.slow
def test_seed_hashes_equal_a_fresh_run_of_the_pre_redesign_commit(seed_run, tmp_path):
    """Every arm's final weights, bit for bit, against the code before workloads on this machine."""
    old = tmp_path / "old"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", PRE_REDESIGN, "src"], capture_output=True)
    assert archive.returncode == 0, (
        f"commit {PRE_REDESIGN} is not in this clone's history "
        f"({archive.stderr.decode().strip()}): fetch it (git fetch --unshallow)"
    )
    old.mkdir()
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    out = tmp_path / "old.json"
    env = {**os.environ, "PYTHONPATH": str(old / "src")}
    proc = subprocess.run(
        [sys.executable, "-m", "paritybench", "run", "--no-weights", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=1200,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    before = _hashes(json.loads(out.read_text()))
    after = _hashes(seed_run["artifact"])
    # seed-bce's native torch arms came after (issue 11); every arm the old code had is still here
    assert set(after) - set(before) <= {"torch-bce", "torch-bce-logits"} and set(before) <= set(after)
    after = {a: h for a, h in after.items() if a in before}
    assert len(after) >= 8
    # One deliberate change since: the torch emulation follows torch 2.15's clip gradient (zero at
    # the bounds; it reproduces keras-torch to 4.5e-8 after step 1, the old one to 7.2e-3 only).
    changed = {"jax-keras-torch-clip"}
    assert {a: h for a, h in before.items() if a not in changed} == {a: h for a, h in after.items() if a not in changed}
    assert before["jax-keras-torch-clip"] != after["jax-keras-torch-clip"]


@pytest.mark.slow
def test_every_committed_v1_baseline_compares_with_a_fresh_v2_run(seed_run, tmp_path):
    """Schema-1 artifacts are read as seed-bce: seed, sweep and sensitivity baselines (CPU and GPU)
    against fresh schema-2 runs of the same configuration, exit 0 (no divergent run)."""
    sweep_args = ["--seeds", "0", "--windows", "0", "--arms", "jax-logits,reference-f64"]
    fresh = {}
    for name, args in (
        ("sweep", ["sweep", *sweep_args]),
        ("sweep-normalized", ["sweep", *sweep_args, "--normalize"]),
        ("sensitivity", ["sensitivity", "--k", "2", "--arms", "jax-logits,reference-f64"]),
    ):
        fresh[name] = tmp_path / f"{name}.json"
        proc = run_cli(*args, "--out", str(fresh[name]))
        assert proc.returncode == 0, proc.stderr[-2000:]
    pairs = {
        "seed-cpu.json": seed_run["path"],
        "seed-gpu.json": seed_run["path"],
        "sweep-cpu.json": fresh["sweep"],
        "sweep-gpu.json": fresh["sweep"],
        "sweep-cpu-normalized.json": fresh["sweep-normalized"],
        "sensitivity-cpu.json": fresh["sensitivity"],
        "sensitivity-gpu.json": fresh["sensitivity"],
    }
    v1 = {p.name for p in BASELINES.glob("*.json") if json.loads(p.read_text())["schema_version"].startswith("1.")}
    assert v1 == set(pairs)
    for baseline, new in pairs.items():
        old = json.loads((BASELINES / baseline).read_text())
        assert old["schema_version"].startswith("1."), baseline
        proc = run_cli("compare", str(BASELINES / baseline), str(new), "--format", "json")
        assert proc.returncode == 0, f"{baseline}: {proc.stderr[-1500:]}"
        report = json.loads(proc.stdout)
        verdicts = {v["verdict"] for v in report["comparisons"][0]["verdicts"]}
        assert verdicts & {"identical", "equivalent"}, (baseline, verdicts)


@pytest.fixture(scope="module")
def softmax_run(tmp_path_factory, api_run):
    """softmax-ce, one step, the six arms of its mechanism check: trained once for the two tests that read it
    (the compare refusal needs any softmax-ce artifact; it used to train a jax-logits run of its own). In this
    process (api.run, which raises where an arm errors: the CLI's exit 1), on the session's Keras workers."""
    out = tmp_path_factory.mktemp("softmax") / "sm.json"
    api_run(
        "softmax-ce",
        steps=1,
        weights=False,
        out=out,
        arms="jax-naive,jax-keras-clip,jax-logits,keras-tensorflow,keras-jax,reference-f64",
    )
    return out


@pytest.mark.slow
def test_compare_refuses_artifacts_of_two_workloads(seed_run, softmax_run):
    proc = run_cli("compare", str(seed_run["path"]), str(softmax_run))
    assert proc.returncode == 2 and "workload name differs" in proc.stderr and proc.stderr.count("\n") == 1


@pytest.mark.slow
def test_softmax_ce_reproduces_each_keras_backend_after_one_step(softmax_run):
    """Keras-TF takes the softmax's cached logits (matches optax.softmax_cross_entropy), Keras-JAX
    clips the renormalised probability (matches jax-keras-clip): both within 1e-6 after step 1."""
    a = json.loads(softmax_run.read_text())
    mech = {m["keras_arm"]: m for m in a["mechanism"]}
    assert mech["keras-tensorflow"]["emulation"] == "jax-logits" and mech["keras-tensorflow"]["reproduced"]
    assert mech["keras-jax"]["emulation"] == "jax-keras-clip" and mech["keras-jax"]["reproduced"]
    runs = {r["arm"]: r for r in a["runs"]}
    assert runs["jax-naive"]["first_nonfinite_step"] == 0  # 0 * log(0) in the literal port
    # the clipped loss gives up on most samples at step 0; the logits loss on almost none
    assert runs["jax-keras-clip"]["curves"]["dead_misclassified"][0] > 0.5
    assert runs["jax-logits"]["curves"]["dead_misclassified"][0] < 0.01
    assert runs["keras-tensorflow"]["curves"]["loss"][0] == pytest.approx(
        runs["reference-f64"]["curves"]["loss"][0], rel=1e-5
    )


@pytest.mark.slow
def test_the_example_workload_goes_through_every_command(tmp_path):
    common = ["--workload", EXAMPLE, "--steps", "3", "--n", "200"]
    run = tmp_path / "run.json"
    proc = run_cli("run", *common, "--arms", "jax-adam,keras-tensorflow,reference-f64", "--out", str(run))
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = json.loads(run.read_text())
    assert a["workload"]["name"] == "tanh-adam" and a["workload"]["source"] == "file"
    runs = {r["arm"]: r for r in a["runs"]}
    assert all(r["status"] == "ok" for r in runs.values())
    # Keras's Adam and optax's differ in where epsilon sits, not enough to move accuracy in 3 steps
    assert abs(runs["keras-tensorflow"]["final_accuracy"] - runs["jax-adam"]["final_accuracy"]) <= 0.01
    sweep = tmp_path / "sweep.json"
    proc = run_cli(
        "sweep", *common, "--arms", "jax-adam,reference-f64", "--seeds", "0-1", "--windows", "0", "--out", str(sweep)
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    sens = tmp_path / "sens.json"
    proc = run_cli("sensitivity", *common, "--arms", "jax-adam,reference-f64", "--k", "3", "--out", str(sens))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(sens.read_text())["classes"]["jax-adam"] in ("stable", "chaotic")
    again = tmp_path / "again.json"
    proc = run_cli("run", *common, "--arms", "jax-adam,keras-tensorflow,reference-f64", "--out", str(again))
    assert proc.returncode == 0, proc.stderr[-2000:]
    proc = run_cli("compare", str(run), str(again), "--sensitivity", str(sens))
    assert proc.returncode == 0 and "identical" in proc.stdout, proc.stdout + proc.stderr
    proc = run_cli("report", str(run), str(sweep), str(sens), "--out", str(tmp_path / "report"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = (tmp_path / "report" / "report.md").read_text()
    assert "tanh-adam" in text and "jax-adam" in text
