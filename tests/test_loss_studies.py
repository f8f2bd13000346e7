"""Sweeps and sensitivity studies of a head without classes (a linear head's regression): the final loss is the
metric. The summaries against hand-made runs, compare's distribution test on final losses, a checkpoint line of a
loss run, and ``examples/own_regression`` through sweep, sensitivity, compare and report, whose output names the
criterion."""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from types import SimpleNamespace

import pytest

from paritybench.analysis import compare, stats
from paritybench.analysis.tolerances import STABLE_TOLERANCE
from paritybench.artifact import validate_file
from paritybench.artifact.records import RunKey
from paritybench.studies.checkpoint import run_problem
from paritybench.studies.nodes import split_summary

from .conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "own_regression" / "workload.py"


def _run(arm: str, seed: int, window: int, loss: float | str, copy: int | None = None) -> dict:
    return {
        "arm": arm,
        "seed": seed,
        "window_start": window,
        "copy": copy,
        "status": "ok",
        "metric": "loss",
        "final_accuracy": None,
        "final_loss": loss,
        "final_weights_sha256": hashlib.sha256(f"{arm}{seed}{window}{copy}".encode()).hexdigest(),
        "any_nonfinite": loss == "nan",
        "curves": {"loss": [1.0, loss]},
    }


def test_a_loss_sweep_summarises_final_losses_and_pairs_them_with_the_reference():
    runs = [_run("ref", s, w, 0.5 + s + w / 10) for s in (0, 1) for w in (0, 1)]
    runs += [_run("a", s, w, 0.5 + s + w / 10 + 0.01) for s in (0, 1) for w in (0, 1)]
    runs += [_run("b", 0, 0, "nan")]
    out = stats.sweep_loss_summary(runs, "ref")
    assert out["ref"]["final_loss"]["count"] == 4 and out["ref"]["final_loss"]["min"] == 0.5
    assert out["ref"]["final_loss"]["max"] == pytest.approx(1.6) and "paired_diff_vs_reference" not in out["ref"]
    assert out["a"]["paired_diff_vs_reference"]["mean"] == pytest.approx(0.01)
    assert out["b"]["final_loss"]["mean"] == "nan"  # a diverged run is carried, as the artifact writes NaN
    assert "near_chance" not in out["a"]  # a regression has no chance level


def test_sensitivity_on_the_loss_is_stable_within_the_stable_tolerance_and_chaotic_past_it():
    rtol = STABLE_TOLERANCE.loss_rtol
    runs = [_run("steady", 0, 0, 0.25 * (1 + 1e-7 * c), copy=c) for c in range(4)]
    runs += [_run("wild", 0, 0, 0.25 * (1 + 2 * rtol * c), copy=c) for c in range(4)]
    runs += [_run("edge", 0, 0, v, copy=c) for c, v in enumerate((1.0, 1.0 + rtol))]
    runs += [_run("nan", 0, 0, v, copy=c) for c, v in enumerate((0.25, "nan"))]
    summary, classes = stats.sensitivity_loss_summary(runs, {})
    assert classes == {"steady": "stable", "wild": "chaotic", "edge": "stable", "nan": "chaotic"}
    assert summary["steady"]["loss_spread"] == pytest.approx(3e-7, rel=1e-3)
    assert summary["nan"]["loss_spread"] == "inf" and summary["wild"]["copies"] == 4
    assert stats.loss_spread([2.0, 2.0]) == 0.0 and math.isinf(stats.loss_spread([0.0, 1e-9, -1e-9]))
    assert f"{rtol:g} relative" in stats.sensitivity_loss_criterion()


def _loaded(runs: list[dict]) -> compare.Loaded:
    return compare.Loaded(Path("x.json"), {"runs": runs}, {RunKey.of(r): r for r in runs}, None)


def test_compare_tests_final_loss_distributions_for_a_loss_metric():
    a = _loaded([_run("arm", s, 0, 0.2 + 0.001 * s) for s in range(6)])
    b = _loaded([_run("arm", s, 0, 0.5 + 0.001 * s) for s in range(6)])
    out = compare.distribution_test("arm", a, b)
    assert out["verdict"] == "divergent" and out["reason"].startswith("final_loss distributions: p = ")
    assert out["median_reference"] == pytest.approx(0.2025)
    same = compare.distribution_test("arm", a, a)
    assert same["verdict"] == "equivalent"


# ---------------------------------------------------------------- end to end


def test_sweep_and_sensitivity_of_the_own_regression_example_name_their_criterion(tmp_path):
    sweep = tmp_path / "sweep.json"
    proc = run_cli(
        "sweep", "--workload", str(EXAMPLE), "--seeds", "0-1", "--windows", "0,256", "--steps", "4",
        "--out", str(sweep), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    assert "final loss over 2 seeds x 2 windows" in text and "criterion = final loss:" in text, proc.stdout[-2000:]
    a = json.loads(sweep.read_text())
    validate_file(sweep)
    assert a["criterion"] == {"metric": "loss", "text": stats.SWEEP_LOSS_CRITERION}
    assert set(a["summary"]) == {"jax", "torch", "keras-tensorflow", "reference-f64"}
    for arm, s in a["summary"].items():
        assert s["final_loss"]["count"] == 4 and "near_chance" not in s, arm
        losses = sorted(r["final_loss"] for r in a["runs"] if r["arm"] == arm)
        assert (s["final_loss"]["min"], s["final_loss"]["max"]) == (losses[0], losses[-1])
        # every float32 arm ends within rounding of the float64 arbiter on the same seed and window
        assert arm == "reference-f64" or abs(s["paired_diff_vs_reference"]["max"]) < 1e-5 * losses[0]
    # by node: the final loss's mean and paired differences (one node here)
    (node,) = split_summary(a).values()
    assert set(node) == set(a["summary"]) and all("mean_final_accuracy" not in v for v in node.values())
    assert node["torch"]["mean_final_loss"] == pytest.approx(a["summary"]["torch"]["final_loss"]["mean"])
    proc = run_cli("nodes", str(sweep), cwd=tmp_path)
    assert proc.returncode == 0 and "runs by node: final loss" in proc.stdout, proc.stderr[-2000:]
    # a checkpoint line of a loss run is finished with its final loss (no accuracy), unfinished without it
    cfg = SimpleNamespace(arms=list(a["summary"]), seeds=[0, 1], windows=[0, 256], n=a["config"]["n"])
    assert all(run_problem(r, cfg) is None for r in a["runs"])
    assert "without its final loss" in run_problem({**a["runs"][0], "final_loss": None}, cfg)

    sens = tmp_path / "sens.json"
    proc = run_cli(
        "sensitivity", "--workload", str(EXAMPLE), "--seeds", "0", "--windows", "0", "--k", "3", "--steps", "4",
        "--out", str(sens), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    assert "criterion = final loss: stable when the copies' final losses spread by at most 0.02 relative" in text
    s = json.loads(sens.read_text())
    validate_file(sens)
    assert s["criterion"]["metric"] == "loss" and set(s["classes"].values()) == {"stable"}  # a smooth regression
    for arm, row in s["sensitivity"].items():
        assert row["copies"] == 3 and row["loss_spread"] <= STABLE_TOLERANCE.loss_rtol, arm

    proc = run_cli("compare", str(sweep), str(sweep), "--sensitivity", str(sens), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = run_cli("report", str(sweep), str(sens), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "**metric: the final loss**" in md and f"- Criterion: {stats.SWEEP_LOSS_CRITERION}." in md
    assert f"- Criterion: {stats.sensitivity_loss_criterion()}." in md and "final-accuracy" not in md
    assert (tmp_path / "rep" / "sweep-loss.png").is_file() and (tmp_path / "rep" / "sensitivity-loss.png").is_file()


def test_merged_shards_of_a_loss_sweep_carry_the_unsharded_summary_and_criterion(tmp_path):
    grid = ("--workload", str(EXAMPLE), "--seeds", "0-1", "--windows", "0,256", "--steps", "3", "--arms", "jax,torch")
    outs = {}
    for name, extra in (("whole", ()), ("s0", ("--shard", "0/2")), ("s1", ("--shard", "1/2"))):
        outs[name] = tmp_path / f"{name}.json"
        proc = run_cli("sweep", *grid, *extra, "--out", str(outs[name]), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
    merged = tmp_path / "merged.json"
    proc = run_cli("merge", str(outs["s0"]), str(outs["s1"]), "--out", str(merged), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "criterion = final loss:" in " ".join(proc.stdout.split())
    m, w = json.loads(merged.read_text()), json.loads(outs["whole"].read_text())
    assert m["criterion"] == w["criterion"] and m["summary"] == w["summary"]
    assert "windows_info" not in m and "windows_info" not in w  # no majority rate without classes
