"""The seed preset, end to end, as issue 2 pins it."""

import numpy as np
import pytest

from paritybench.artifact import validation_errors

from .conftest import by_arm, run_cli


def maxdiff(a, b):
    return max(float(np.max(np.abs(np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)))) for k in a)


@pytest.mark.slow
def test_seed_preset_reproduces_the_report(seed_run):
    runs = by_arm(seed_run["artifact"])
    for arm in (
        "jax-naive",
        "jax-seed-stable",
        "jax-keras-clip",
        "jax-logits",
        "keras-tensorflow",
        "keras-jax",
        "reference-f64",
    ):
        assert runs[arm]["status"] == "ok", runs[arm].get("reason")
        assert runs[arm]["initial_accuracy"] == 0.435, arm
    assert runs["keras-tensorflow"]["final_accuracy"] == 0.909
    assert runs["jax-logits"]["final_accuracy"] == 0.909
    assert runs["reference-f64"]["final_accuracy"] == 0.909
    naive = runs["jax-naive"]
    assert naive["final_accuracy"] == 0.51
    assert naive["any_nonfinite"] is True and naive["first_nonfinite_step"] == 0
    assert naive["final_loss"] == "nan"
    for arm in ("jax-logits", "keras-tensorflow", "reference-f64"):
        assert runs[arm]["any_nonfinite"] is False


@pytest.mark.slow
def test_logits_arm_matches_keras_tensorflow_and_the_float64_reference(seed_run):
    w = seed_run["weights"]
    logits, ktf, ref = w["jax-logits/s0/w0"], w["keras-tensorflow/s0/w0"], w["reference-f64/s0/w0"]
    assert maxdiff(logits, ktf) < 1e-5
    assert maxdiff(logits, ref) < 1e-4
    assert maxdiff(ktf, ref) < 1e-4
    # ... while a clip-based arm ends far from the reference
    assert maxdiff(w["jax-seed-stable/s0/w0"], ref) > 1e-2


@pytest.mark.slow
def test_seed_preset_artifact_is_valid_and_complete(seed_run):
    a = seed_run["artifact"]
    assert validation_errors(a) == []
    assert a["config"]["seeds"] == [0] and a["config"]["windows"] == [0] and a["config"]["steps"] == 10
    assert a["environment"]["packages"]["jax"] and a["environment"]["packages"]["tensorflow"]
    assert "keras-tensorflow" in a["environment"]["frameworks"]
    for r in a["runs"]:
        if r["status"] == "ok":
            assert len(r["curves"]["loss"]) == 11 and len(r["curves"]["grad_norm"]) == 10
            assert set(r["swap"]) >= {"jax", "reference-f64", "keras-tensorflow"}
        else:
            assert r["status"] == "skipped" and "not installed" in r["reason"]
    # the seed's swap: Keras-TF's weights under the JAX forward pass give Keras's accuracy
    assert by_arm(a)["keras-tensorflow"]["swap"]["jax"] == 0.909
    assert by_arm(a)["jax-logits"]["swap"]["keras-tensorflow"] == 0.909


@pytest.mark.slow
def test_seed_run_prints_the_table_and_the_artifact_path(seed_run):
    out = seed_run["stdout"]
    assert "jax-logits" in out and "0.909" in out and f"artifact: {seed_run['path']}" in out


@pytest.mark.slow
def test_keras_clip_emulation_matches_keras_jax_after_one_step(tmp_path):
    out = tmp_path / "one.json"
    proc = run_cli("run", "--steps", "1", "--arms", "jax-keras-clip,keras-jax", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    from paritybench.experiment.weights import load_weights_npz

    w = load_weights_npz(out.with_suffix(".weights.npz"))
    assert maxdiff(w["jax-keras-clip/s0/w0"], w["keras-jax/s0/w0"]) <= 1e-6
