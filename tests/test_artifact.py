import json

import pytest

from paritybench import artifact


def minimal(**run_overrides):
    run = {
        "arm": "jax-logits",
        "seed": 0,
        "window_start": 0,
        "status": "ok",
        "initial_accuracy": 0.435,
        "final_accuracy": 0.909,
        "final_loss": 0.25,
        "any_nonfinite": False,
        "curves": {"loss": [1.0, "nan"], "accuracy": [0.4, 0.5], "grad_norm": ["inf"], "nonfinite": [False, True]},
        "final_weights_sha256": "a" * 64,
    }
    run.update(run_overrides)
    return {
        "schema_version": "1.0",
        "created_at": "2026-11-26T00:00:00Z",
        "config": {
            "seeds": [0],
            "windows": [0],
            "n": 1000,
            "steps": 1,
            "lr": 0.01,
            "normalize": False,
            "arms": ["jax-logits"],
        },
        "environment": {"python": "3.13", "packages": {}},
        "runs": [run],
    }


def test_minimal_artifact_is_valid_and_nan_is_a_string():
    assert artifact.validation_errors(minimal()) == []
    assert artifact.num(float("nan")) == "nan" and artifact.num(float("-inf")) == "-inf"


def test_skipped_run_needs_a_reason():
    bad = minimal(status="skipped", final_weights_sha256=None, curves={})
    assert any("reason" in e for e in artifact.validation_errors(bad))
    assert (
        artifact.validation_errors(
            minimal(status="skipped", reason="torch not installed", final_weights_sha256=None, curves={})
        )
        == []
    )


def test_newer_schema_major_is_flagged():
    a = minimal()
    a["schema_version"] = "3.0"
    assert any("major" in e for e in artifact.validation_errors(a))


def test_schema_2_requires_the_workload_and_schema_1_is_read_as_seed_bce():
    a = minimal()
    a["schema_version"] = "2.0"
    errors = artifact.validation_errors(a)
    assert any("workload" in e for e in errors)
    up = artifact.upgrade(minimal())
    assert up["workload"]["name"] == "seed-bce" and up["runs"][0]["workload"] == {"name": "seed-bce", "version": "1"}
    up["schema_version"] = "2.0"
    assert artifact.validation_errors(up) == []


def test_invalid_artifact_is_never_written(tmp_path):
    a = minimal(final_accuracy=1.5)
    with pytest.raises(Exception, match="invalid artifact"):
        artifact.write_artifact(tmp_path / "a.json", a)
    assert list(tmp_path.iterdir()) == []


def test_atomic_write_leaves_nothing_when_the_writer_fails(tmp_path):
    def writer(fh):
        fh.write(b"half")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        artifact.atomic_write_bytes(tmp_path / "a.json", writer=writer)
    assert list(tmp_path.iterdir()) == []
    artifact.write_artifact(tmp_path / "b.json", minimal())
    assert json.loads((tmp_path / "b.json").read_text())["runs"][0]["arm"] == "jax-logits"
