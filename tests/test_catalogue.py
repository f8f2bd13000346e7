"""The catalogue page and the run-all index, on small constructed artifacts (no training)."""

from __future__ import annotations

import json

import pytest

from paritybench.analysis.catalogue import artifacts_of_index, write_catalogue
from paritybench.artifact.index import INDEX_KIND, is_index, read_index
from paritybench.commands.report import workload_roles
from paritybench.commands.run_all import catalogue_names
from paritybench.errors import ParityError


def _run(arm, acc, loss):
    return {
        "arm": arm,
        "seed": 0,
        "window_start": 0,
        "status": "ok",
        "final_accuracy": acc[-1],
        "final_loss": loss[-1],
        "curves": {"accuracy": acc, "loss": loss},
    }


def _artifact(name, question, runs, mechanism=()):
    return {
        "kind": "run",
        "workload": {"name": name, "version": "1", "question": question},
        "config": {"n": 10, "steps": 2, "lr": 0.01, "normalize": False},
        "runs": runs,
        "mechanism": list(mechanism),
    }


def test_catalogue_has_question_gap_mechanism_fix_and_plot(tmp_path):
    a = _artifact(
        "seed-bce",
        "Why Q1?",
        [
            _run("jax-naive", [0.5, 0.5, 0.52], [1, "nan", "nan"]),
            _run("jax-logits", [0.5, 0.8, 0.9], [1, 0.5, 0.25]),
            _run("reference-f64", [0.5, 0.8, 0.9], [1, 0.5, 0.25]),
        ],
        [
            {
                "keras_arm": "keras-tensorflow",
                "emulation": "jax-logits",
                "seed": 0,
                "window_start": 0,
                "max_abs_diff_step1": 3.9e-7,
                "max_abs_diff_final": 1e-6,
                "tolerance": 1e-6,
                "reproduced": True,
            }
        ],
    )
    b = _artifact("label-shape", "Why Q2?", [_run("reference-f64", [0.1, 0.2, 0.3], [2, 1.5, 1.25])])
    page = write_catalogue(
        [a, b],
        tmp_path,
        {"workloads": [{"workload": "seed-bce", "status": "ok", "seconds": 1.5}], "total_seconds": 3.0},
        roles=workload_roles,
    )
    text = page.read_text()
    assert "## `seed-bce`" in text and "## `label-shape`" in text
    assert "Why Q1?" in text and "Why Q2?" in text
    assert "| `jax-naive` | port | ok | 0.520 | nan |" in text
    assert "| `jax-logits` | fix | ok | 0.900 | 0.25 |" in text
    assert "| `keras-tensorflow` | `jax-logits` | 3.9e-07 | 1e-06 | yes |" in text
    assert "**Fix:** `jax-logits`" in text
    assert "| `seed-bce` | ok | 1.5 |" in text
    assert (tmp_path / "seed-bce-curves.png").stat().st_size > 1000
    assert "no Keras arm with an emulation ran" in text.split("## `label-shape`")[1]


def test_index_round_trip(tmp_path):
    (tmp_path / "seed-bce.json").write_text("{}")
    idx = tmp_path / "index.json"
    idx.write_text(
        json.dumps(
            {
                "kind": INDEX_KIND,
                "workloads": [
                    {"workload": "seed-bce", "path": "seed-bce.json", "status": "ok"},
                    {"workload": "softmax-ce", "path": "softmax-ce.json", "status": "error"},
                ],
            }
        )
    )
    assert is_index(idx) and not is_index(tmp_path / "seed-bce.json")
    index, paths = artifacts_of_index(idx)
    assert paths == [str(tmp_path / "seed-bce.json")]  # the errored workload wrote no artifact
    with pytest.raises(ParityError, match="not a catalogue index"):
        read_index(tmp_path / "seed-bce.json")


def test_all_covers_every_builtin_including_init_defaults():
    names = catalogue_names()
    assert "init-defaults" in names and "seed-bce" in names and len(names) == len(set(names))


def test_run_all_refuses_before_training(tmp_path):
    from tests.conftest import run_cli

    p = run_cli("run", "--workload", "all", "--arms", "jax-logits", "--out", str(tmp_path / "c"))
    assert p.returncode == 2 and "arm names differ per workload" in p.stderr
    p = run_cli("run", "--workload", "all", "--out", str(tmp_path / "c.json"))
    assert p.returncode == 2 and "--out is a folder" in p.stderr
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "label-shape.json").write_text("{}")  # one workload's artifact already there
    p = run_cli("run", "--workload", "all", "--out", str(tmp_path / "d"))
    assert p.returncode == 2 and "label-shape.json already exists" in p.stderr
    assert sorted(x.name for x in (tmp_path / "d").iterdir()) == ["label-shape.json"]  # nothing trained or written
