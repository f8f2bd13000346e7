"""The artifact's typed run records (paritybench.artifact.records): one RunKey, one record head, every
reader keyed by it."""

import json
from pathlib import Path

from paritybench import workloads
from paritybench.analysis import compare
from paritybench.artifact import build_artifact, duplicate_runs
from paritybench.artifact.records import CaseKey, RunKey, record_head
from paritybench.experiment.weights import weights_group
from paritybench.pipeline import runner

ROOT = Path(__file__).resolve().parents[1]


def test_run_key_of_a_record_reads_its_window_and_copy():
    run = {"arm": "jax-logits", "seed": 3, "window_start": 1000, "copy": 2, "status": "ok"}
    key = RunKey.of(run)
    assert (key.arm, key.seed, key.window, key.copy) == ("jax-logits", 3, 1000, 2)
    assert key.case == CaseKey(3, 1000) == CaseKey.of(run)
    del run["copy"]
    assert RunKey.of(run).copy is None
    assert RunKey.of({"seed": 3, "window_start": 1000}, arm="torch-bce") == RunKey("torch-bce", 3, 1000)


def test_run_key_is_interchangeable_with_the_plain_tuple():
    # checkpoints, Ray tasks and older callers hand the key over as a plain (arm, seed, window, copy)
    by_key = {RunKey("jax", 0, 0, None): "x"}
    assert by_key[("jax", 0, 0, None)] == "x"
    arm, seed, window, copy = RunKey("jax", 1, 2, 3)
    assert (arm, seed, window, copy) == ("jax", 1, 2, 3)


def test_run_key_names_a_run_and_its_weights_group():
    assert RunKey("keras-jax", 0, 5000).label == "keras-jax s0 w5000"
    assert RunKey("keras-jax", 0, 5000, 4).label == "keras-jax s0 w5000 c4"
    assert RunKey("keras-jax", 0, 5000).group == "keras-jax/s0/w5000"
    assert weights_group(("keras-jax", 0, 5000, 4)) == RunKey("keras-jax", 0, 5000, 4).group == "keras-jax/s0/w5000/c4"


def test_case_fields_write_copy_only_for_a_perturbed_copy():
    assert list(RunKey("a", 1, 2).case_fields().items()) == [("seed", 1), ("window_start", 2)]
    assert list(RunKey("a", 1, 2, 0).case_fields().items()) == [("seed", 1), ("window_start", 2), ("copy", 0)]


def test_record_head_keeps_the_artifacts_field_order():
    wl = {"name": "seed-bce", "version": "1"}
    head = record_head(RunKey("jax-logits", 0, 0, 7), "ok", wl, 1000, "logits")
    assert list(head) == ["arm", "seed", "window_start", "n", "status", "loss_formulation", "workload", "copy"]
    assert "copy" not in record_head(RunKey("jax-logits", 0, 0), "ok", wl, 1000, "logits")


def test_runner_entry_writes_the_fields_in_a_committed_baselines_order():
    base = json.loads((ROOT / "results/baselines/seed-bce-cpu.json").read_text())
    wl = workloads.load("seed-bce")
    for committed in base["runs"]:
        key = RunKey.of(committed)
        entry = runner._entry(wl, wl.arm(key.arm), runner.Case(key.seed, key.window), committed["n"], status="ok")
        head = [k for k in committed if k in entry][:7]
        assert list(entry)[:7] == head == ["arm", "seed", "window_start", "n", "status", "loss_formulation", "workload"]


def test_duplicate_runs_and_compare_share_the_key():
    runs = [
        {"arm": "jax", "seed": 0, "window_start": 0, "copy": 1},
        {"arm": "jax", "seed": 0, "window_start": 0, "copy": 2},
        {"arm": "jax", "seed": 0, "window_start": 0, "copy": 1},
    ]
    problems = duplicate_runs({"runs": runs})
    assert len(problems) == 1 and "two runs for jax seed 0 window 0 copy 1" in problems[0]
    v = compare.Verdict(RunKey.of(runs[0]), "identical", "stable")
    assert v.label == "jax s0 w0 c1"
    assert list(v.to_dict())[:4] == ["arm", "seed", "window_start", "copy"]


TOP = ("schema_version", "kind", "created_at", "paritybench_version", "config_hash", "workload", "config")
TOP += ("environment", "timing", "weights_file", "runs", "mechanism", "conventions")


def test_the_artifact_builder_rebuilds_a_committed_baseline_byte_for_byte():
    text = (ROOT / "results/baselines/seed-bce-cpu.json").read_text()
    base = json.loads(text)
    rebuilt = build_artifact(
        kind=base["kind"],
        config_hash=base["config_hash"],
        workload=base["workload"],
        config=base["config"],
        environment=base["environment"],
        timing=base["timing"],
        runs=base["runs"],
        weights_file=base["weights_file"],
        mechanism=base.get("mechanism"),
        conventions=base.get("conventions"),
        extra={k: v for k, v in base.items() if k not in TOP},
        schema_version=base["schema_version"],
        paritybench_version=base["paritybench_version"],
    )
    assert rebuilt["created_at"].endswith("Z") and len(rebuilt["created_at"]) == len("2026-11-26T00:00:00Z")
    rebuilt["created_at"] = base["created_at"]
    assert json.dumps(rebuilt, indent=1, allow_nan=False) + "\n" == text


def test_the_artifact_builder_leaves_out_empty_mechanism_and_conventions_and_puts_extra_last():
    art = build_artifact(
        kind="sweep", config_hash=None, workload={}, config={}, environment={}, timing={}, runs=[],
        mechanism=[], conventions={}, extra={"summary": {}, "merged_from": {}},
    )  # fmt: skip
    assert list(art)[-3:] == ["runs", "summary", "merged_from"]
