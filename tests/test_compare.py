"""paritybench compare and run --repeat: real runs on this machine, plus doctored copies of them."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from .conftest import ROOT, by_arm, run_cli

# Cross-configuration runs use a subset: TensorFlow (oneDNN, TF threads), a stable and a
# chaotic JAX arm (XLA threads) and the float64 reference (NumPy's BLAS threads).
CROSS_ARMS = "keras-tensorflow,jax-logits,jax-keras-clip,reference-f64"


def compare_json(*args: str) -> tuple[subprocess.CompletedProcess, dict | None]:
    proc = run_cli("compare", *args, "--format", "json")
    return proc, (json.loads(proc.stdout) if proc.stdout.strip() else None)


def verdicts(report: dict, i: int = 0) -> dict[str, str]:
    return {v["arm"]: v["verdict"] for v in report["comparisons"][i]["verdicts"]}


@pytest.fixture(scope="session")
def repeat_run(tmp_path_factory):
    """The seed preset twice more, each in a fresh process (run --repeat 2)."""
    out = tmp_path_factory.mktemp("repeat") / "repeat.json"
    proc = run_cli("run", "--repeat", "2", "--out", str(out))
    return {"proc": proc, "path": out, "artifact": json.loads(out.read_text()) if out.exists() else None}


def test_repeat_gives_bit_identical_weights_for_every_arm_on_cpu(repeat_run, seed_run):
    proc, art = repeat_run["proc"], repeat_run["artifact"]
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    rep = art["repeat"]
    assert rep["count"] == 2 and rep["identical"] is True
    ran = {r["arm"] for r in art["runs"] if r["status"] == "ok"}
    assert ran >= {"jax-naive", "jax-logits", "jax-keras-clip", "keras-tensorflow", "keras-jax", "reference-f64"}
    for arm in ran:
        case = rep["arms"][arm]["cases"][0]
        assert rep["arms"][arm]["identical"] is True and len(case["hashes"]) == 2, arm
        assert case["hashes"][0] == by_arm(art)[arm]["final_weights_sha256"]
        assert case["max_abs_diff"] == 0.0, arm  # jax-naive's NaN weights count as equal to themselves
    skipped = {r["arm"] for r in art["runs"] if r["status"] == "skipped"}
    assert all(rep["arms"][a]["identical"] is None for a in skipped)
    assert (repeat_run["path"].with_suffix(".weights.npz")).is_file()


def test_two_seed_runs_compare_identical_for_every_arm(repeat_run, seed_run):
    proc, report = compare_json(str(seed_run["path"]), str(repeat_run["path"]))
    assert proc.returncode == 0, proc.stderr
    ok = {r["arm"] for r in seed_run["artifact"]["runs"] if r["status"] == "ok"}
    v = verdicts(report)
    assert {a: v[a] for a in ok} == dict.fromkeys(ok, "identical")
    assert report["exit_status"] == 0


def _doctor(seed_run: dict, tmp_path: Path, change, weights: dict | None = None) -> Path:
    """A copy of the seed run's artifact with ``change`` applied; its weights beside it."""
    art = copy.deepcopy(seed_run["artifact"])
    change(art)
    out = tmp_path / "doctored.json"
    npz = tmp_path / "doctored.weights.npz"
    if weights is None:
        shutil.copyfile(seed_run["path"].with_suffix(".weights.npz"), npz)  # beside it: no link out of the folder
    else:
        np.savez(npz, **weights)
    art["weights_file"] = npz.name
    out.write_text(json.dumps(art))
    return out


def _run(art: dict, arm: str) -> dict:
    return next(r for r in art["runs"] if r["arm"] == arm)


@pytest.mark.parametrize(
    "case, status, needles",
    [
        ("hash", 1, ("jax-logits s0 w0", "final_weights_sha256")),
        ("accuracy", 1, ("jax-logits s0 w0", "final_accuracy")),
        ("steps", 2, ("config.steps",)),
        ("schema", 2, ("schema_version",)),
    ],
)
def test_doctored_artifact_gives_the_right_exit_and_names_the_field(seed_run, tmp_path, case, status, needles):
    def change(art):
        if case == "hash":
            _run(art, "jax-logits")["final_weights_sha256"] = "0" * 64
        elif case == "accuracy":
            _run(art, "jax-logits")["final_accuracy"] = round(_run(art, "jax-logits")["final_accuracy"] + 0.05, 6)
        elif case == "steps":
            art["config"]["steps"] = art["config"]["steps"] - 5
        elif case == "schema":
            art["schema_version"] = f"{int(art['schema_version'].split('.')[0]) + 1}.0"

    doctored = _doctor(seed_run, tmp_path, change)
    proc = run_cli("compare", str(seed_run["path"]), str(doctored))
    assert proc.returncode == status, proc.stdout + proc.stderr
    message = proc.stderr if status == 2 else proc.stdout
    assert all(n in message for n in needles), message
    if status == 1:  # the CI log's one-line summary names the run and the field too
        assert all(n in proc.stderr for n in needles) and proc.stderr.count("\n") == 1
    else:
        assert proc.stdout == "" and proc.stderr.count("\n") == 1


def _weights_with(seed_run: dict, arm: str, delta: float) -> tuple[dict, str]:
    from paritybench.experiment.weights import weights_sha256

    with np.load(seed_run["path"].with_suffix(".weights.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    prefix = f"{arm}/s0/w0/"
    for k in arrays:
        if k.startswith(prefix) and k.endswith("dense_1/bias"):
            arrays[k] = (arrays[k] + np.float32(delta)).astype(np.float32)
    return arrays, weights_sha256({k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)})


@pytest.mark.parametrize("delta, verdict", [(2e-6, "equivalent"), (1e-2, "divergent")])
def test_stable_arm_weights_are_held_to_the_tolerance(seed_run, tmp_path, delta, verdict):
    arrays, digest = _weights_with(seed_run, "jax-logits", delta)
    doctored = _doctor(
        seed_run, tmp_path, lambda a: _run(a, "jax-logits").update(final_weights_sha256=digest), weights=arrays
    )
    proc, report = compare_json(str(seed_run["path"]), str(doctored))
    assert verdicts(report)["jax-logits"] == verdict, report["comparisons"][0]["verdicts"]
    assert proc.returncode == (1 if verdict == "divergent" else 0)
    if verdict == "divergent":
        reasons = next(v for v in report["comparisons"][0]["verdicts"] if v["arm"] == "jax-logits")["reasons"]
        assert any("final weights differ by up to 0.01" in r for r in reasons), reasons


def _chaotic_sweep(seed_run: dict, accuracies: list[float], tag: str) -> dict:
    """An artifact whose jax-keras-clip ran on len(accuracies) seeds (the seed run's entry, re-labelled)."""
    art = copy.deepcopy(seed_run["artifact"])
    base = _run(art, "jax-keras-clip")
    art["runs"] = []
    for seed, acc in enumerate(accuracies):
        r = copy.deepcopy(base)
        digest = hashlib.sha256(f"{tag}{seed}".encode()).hexdigest()
        r.update(seed=seed, final_accuracy=acc, final_weights_sha256=digest)
        art["runs"].append(r)
    art["config"]["seeds"] = list(range(len(accuracies)))
    art["weights_file"] = None
    return art


@pytest.mark.parametrize(
    "a, b, verdict",
    [
        ([0.55, 0.56, 0.57, 0.58, 0.60, 0.61], [0.80, 0.81, 0.83, 0.84, 0.86, 0.88], "divergent"),
        ([0.55, 0.62, 0.70, 0.78, 0.81, 0.86], [0.56, 0.63, 0.69, 0.77, 0.80, 0.87], "equivalent"),
        ([0.55], [0.88], "inconclusive"),
    ],
)
def test_chaotic_arm_is_compared_as_a_distribution(seed_run, tmp_path, a, b, verdict):
    pa, pb = tmp_path / "a.json", tmp_path / "b.json"
    pa.write_text(json.dumps(_chaotic_sweep(seed_run, a, "a")))
    pb.write_text(json.dumps(_chaotic_sweep(seed_run, b, "b")))  # every run differs bit-wise
    proc, report = compare_json(str(pa), str(pb))
    assert {v["verdict"] for v in report["comparisons"][0]["verdicts"]} == {verdict}
    test = report["comparisons"][0]["distribution_tests"][0]
    assert test["arm"] == "jax-keras-clip" and test["n_reference"] == len(a)
    assert proc.returncode == (1 if verdict == "divergent" else 0)


def test_sensitivity_classes_override_the_defaults(seed_run, tmp_path):
    sens = tmp_path / "sens.json"
    sens.write_text(json.dumps({"classes": {"jax-logits": "chaotic", "jax-keras-clip": "stable"}}))
    proc, report = compare_json(str(seed_run["path"]), str(seed_run["path"]), "--sensitivity", str(sens))
    classes = {v["arm"]: v["class"] for v in report["comparisons"][0]["verdicts"]}
    assert classes["jax-logits"] == "chaotic" and classes["jax-keras-clip"] == "stable"
    assert classes["keras-tensorflow"] == "stable"  # not in the file: the default table
    sens.write_text(json.dumps({"classes": {"jax-logits": "wobbly"}}))
    proc = run_cli("compare", str(seed_run["path"]), str(seed_run["path"]), "--sensitivity", str(sens))
    assert proc.returncode == 2 and "classes.jax-logits" in proc.stderr


def test_ci_compare_script_writes_the_job_summary(seed_run, tmp_path):
    summary = tmp_path / "summary.md"
    proc = subprocess.run(
        [str(ROOT / "scripts" / "ci_compare.sh"), str(seed_run["path"])],
        capture_output=True,
        text=True,
        timeout=300,
        env={
            **os.environ,
            "GITHUB_STEP_SUMMARY": str(summary),
            "PARITYBENCH": str(Path(sys.executable).parent / "paritybench"),
        },
    )
    text = summary.read_text()
    assert "## CPU vs committed CPU baseline" in text and "| jax-logits s0 w0 | stable |" in text
    assert "environment diff" in text and "No GPU artifact" in text
    # The stable arms of this checkout must match the committed baseline (re-make it when they change).
    assert proc.returncode == 0, text + proc.stderr


@pytest.fixture(scope="session")
def cross_runs(tmp_path_factory):
    """Three runs of CROSS_ARMS: reference (oneDNN on, 2 threads), oneDNN off, 1 thread."""
    folder = tmp_path_factory.mktemp("cross")
    out = {}
    for name, opts in (
        ("on-2", ["--onednn", "on", "--threads", "2"]),
        ("off-2", ["--onednn", "off", "--threads", "2"]),
        ("on-1", ["--onednn", "on", "--threads", "1"]),
    ):
        path = folder / f"{name}.json"
        proc = run_cli("run", "--arms", CROSS_ARMS, *opts, "--out", str(path))
        assert proc.returncode == 0, proc.stderr[-3000:]
        out[name] = path
    return out


def _readback(path: Path) -> dict:
    return json.loads(path.read_text())["environment"]["frameworks"]


def test_onednn_on_vs_off_only_touches_tensorflow(cross_runs):
    on, off = _readback(cross_runs["on-2"]), _readback(cross_runs["off-2"])
    assert on["keras-tensorflow"]["numerics"]["onednn_enabled"] is True
    assert off["keras-tensorflow"]["numerics"]["onednn_enabled"] is False
    proc, report = compare_json(str(cross_runs["on-2"]), str(cross_runs["off-2"]))
    v = verdicts(report)
    print(f"\ncross-config oneDNN on vs off: {v}")
    # oneDNN is TensorFlow's: the JAX and NumPy arms cannot move.
    assert v["jax-logits"] == v["jax-keras-clip"] == v["reference-f64"] == "identical"
    assert v["keras-tensorflow"] in ("identical", "equivalent")  # stable: rounding only
    assert proc.returncode == 0 and any(
        d["field"].endswith("onednn_enabled") for d in report["comparisons"][0]["environment_diff"]
    )


def test_one_vs_two_threads_keeps_stable_arms_within_tolerance(cross_runs):
    one = _readback(cross_runs["on-1"])
    assert one["keras-tensorflow"]["numerics"]["intra_op_threads"] == 1
    assert one["main"]["xla_cpu_multi_thread_eigen"] == "false"
    proc, report = compare_json(str(cross_runs["on-2"]), str(cross_runs["on-1"]))
    v = verdicts(report)
    print(f"\ncross-config 2 vs 1 threads: {v}")
    assert all(v[a] in ("identical", "equivalent") for a in ("jax-logits", "keras-tensorflow", "reference-f64"))
    assert v["jax-keras-clip"] in ("identical", "inconclusive")  # chaotic, one run a side: no test possible
    assert proc.returncode == 0


def _with_workload_sha256(tmp_path: Path, name: str, digest: str | None) -> Path:
    art = json.loads((ROOT / "results" / "baselines" / "seed-bce-cpu.json").read_text())
    if digest is not None:
        art["workload"]["sha256"] = digest
    out = tmp_path / name
    out.write_text(json.dumps(art))
    return out


def test_a_workload_edited_under_the_same_version_is_said_beside_the_verdicts(tmp_path):
    """Same name and version, different code (sha256): compared, with a note naming both hashes in every
    format; not refused (the hash moves with any byte, a reformatted line included)."""
    from paritybench.analysis.compare import compare, load, render_json, render_markdown, render_text

    a = load(_with_workload_sha256(tmp_path, "a.json", "a" * 64))
    b = load(_with_workload_sha256(tmp_path, "b.json", "b" * 64))
    c = compare(a, b, {})
    assert c.counts()["identical"] == len(a.runs) and c.counts()["divergent"] == 0
    assert c.workload_change is not None
    assert all(s in c.workload_change for s in ("seed-bce", "'1'", "a" * 12, "b" * 12, "a.json", "b.json"))
    assert f"  note: {c.workload_change}\n" in render_text([c])
    assert c.workload_change in render_markdown([c])
    assert json.loads(render_json([c], 0))["comparisons"][0]["workload_change"] == c.workload_change
    # the same code, or a side that predates the hash (every committed baseline): nothing to say
    same = load(_with_workload_sha256(tmp_path, "same.json", "a" * 64))
    older = load(_with_workload_sha256(tmp_path, "older.json", None))
    assert compare(a, same, {}).workload_change is None and compare(a, older, {}).workload_change is None
    assert "note:" not in render_text([compare(a, older, {})])
