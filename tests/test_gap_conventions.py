"""issue 12: the report and the catalogue page put each arm's differing conventions beside its measured gap;
an artifact without a conventions record (schema v1, or an older v2) still renders."""

from __future__ import annotations

import json
from pathlib import Path

from paritybench.analysis.catalogue import write_catalogue
from paritybench.analysis.gap_conventions import arm_rows, common_rows, gap_lines
from paritybench.analysis.report import load, write_report

ROOT = Path(__file__).resolve().parents[1]


def _run(arm, acc):
    return {
        "arm": arm,
        "seed": 0,
        "window_start": 0,
        "status": "ok",
        "final_accuracy": acc,
        "final_loss": 0.5,
        "curves": {"accuracy": [0.1, acc], "loss": [1.0, 0.5]},
    }


CONVENTIONS = {
    "arms": {
        "jax-adam-literal": {
            "process": "main",
            "optimizer.epsilon": 1.0,
            "optimizer.epsilon placement": "inside",
            "dtype": "float32",
            "initial weights": "shared",
            "padding": "SAME: (0, 1)",
        },
        "jax-keras-adam": {
            "process": "main",
            "optimizer.epsilon": 1.0,
            "optimizer.epsilon placement": "outside (epsilon-hat)",
            "dtype": "float32",
            "initial weights": "own",
            "padding": "same",
        },
        "reference-f64": {
            "process": "main",
            "optimizer.epsilon": 1.0,
            "optimizer.epsilon placement": "outside (epsilon-hat)",
            "dtype": "float64",
            "initial weights": "other",
            "padding": "same",
        },
    }
}


def _artifact(conventions=CONVENTIONS):
    a = {
        "kind": "run",
        "workload": {"name": "adam-epsilon", "version": "1", "question": "Q?"},
        "config": {"n": 10, "steps": 1, "lr": 0.01, "normalize": True},
        "runs": [_run("jax-adam-literal", 0.5), _run("jax-keras-adam", 0.64), _run("reference-f64", 0.64)],
        "mechanism": [],
    }
    if conventions is not None:
        a["conventions"] = conventions
    return a


def test_rows_where_an_arm_differs_from_the_reference():
    assert arm_rows(CONVENTIONS, "jax-adam-literal", "reference-f64") == [
        "optimizer.epsilon placement: inside vs outside (epsilon-hat)",
        "dtype: float32 vs float64",
    ]
    # the fix differs only in dtype; initial weights and process are never compared; "SAME: (0, 1)" is "same"
    assert arm_rows(CONVENTIONS, "jax-keras-adam", "reference-f64") == ["dtype: float32 vs float64"]
    assert common_rows(CONVENTIONS, "reference-f64") == [
        "dtype"
    ]  # every other arm differs in it: said once, not per arm


def test_catalogue_puts_the_differing_row_beside_the_arms_gap(tmp_path):
    text = write_catalogue([_artifact()], tmp_path).read_text()
    assert (
        "| `jax-adam-literal` | 0.500 | -0.140 | optimizer.epsilon placement: inside vs outside (epsilon-hat) |" in text
    )
    assert "| `jax-keras-adam` | 0.640 | +0.000 | nothing beyond the rows under this table |" in text
    assert "Every other arm differs from `reference-f64` in: dtype (float64 in `reference-f64`)." in text
    # beside the measured gap: after the gap table, before the mechanism
    assert text.index("**Measured gap**") < text.index("Conventions beside the gap") < text.index("**Mechanism")


def test_report_of_a_run_artifact_has_the_rows(tmp_path):
    a = _artifact()
    md = "\n".join(gap_lines(a, {r["arm"]: r for r in a["runs"]}))
    assert "| `jax-adam-literal` | 0.500 | -0.140 | optimizer.epsilon placement: inside vs outside" in md
    # through write_report, on a committed v2 artifact that records its conventions
    p = tmp_path / "a.json"
    art = json.loads((ROOT / "results/baselines/softmax-ce-cpu.json").read_text())
    assert art.get("conventions"), "the softmax-ce baseline records conventions"
    p.write_text(json.dumps(art))
    report = write_report(load([str(p)]), tmp_path / "rep").read_text()
    assert "| `jax-naive` | 0.097 | -0.072 | loss: jax_model:naive vs jax_model:logits" in report
    assert "oneDNN: on vs n/a" in report.split("| `keras-tensorflow` |")[1].splitlines()[0]


def test_artifacts_without_conventions_still_render(tmp_path):
    text = write_catalogue([_artifact(conventions=None)], tmp_path).read_text()
    assert "| `jax-adam-literal` | 0.500 | -0.140 | - |" in text
    assert "records no conventions" in text
    # schema v1 (the seed's baseline, upgraded on load) through the report
    report = write_report(load([str(ROOT / "results/baselines/seed-cpu.json")]), tmp_path / "rep").read_text()
    assert "| `jax-naive` | 0.510 | -0.399 | - |" in report and "records no conventions" in report
    assert "## Figures" in report
