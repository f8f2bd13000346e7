"""The artifact's typed run records (paritybench.artifact.records): one RunKey, one record head, every
reader keyed by it."""

import copy
import json
import os
import re
from pathlib import Path

import pytest
from rich.console import Console

from paritybench import SCHEMA_VERSION, artifact, workloads
from paritybench.analysis import compare, localize_plot, report
from paritybench.analysis.gap_conventions import gap_lines
from paritybench.analysis.report_table import print_run_table, swap_columns
from paritybench.artifact import build_artifact, duplicate_runs, formats, safeout, upgrade
from paritybench.artifact.index import index_record, read_index
from paritybench.artifact.records import CaseKey, RunKey, RunRecord, record_head
from paritybench.errors import ParityError
from paritybench.experiment.config import RunConfig, parse_int_list, too_large
from paritybench.experiment.weights import weights_group
from paritybench.pipeline import runner
from paritybench.studies.checkpoint import Checkpoint, SweepLock, header_problem, lock_path, precheck_inputs
from paritybench.studies.nodes import split_summary

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
        reference_arm="reference-f64",
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
    assert rebuilt.pop("reference_arm") == "reference-f64"  # the one field 2.1 adds
    assert json.dumps(rebuilt, indent=1, allow_nan=False) + "\n" == text


def test_the_artifact_builder_leaves_out_empty_mechanism_and_conventions_and_puts_extra_last():
    art = build_artifact(
        kind="sweep", config_hash=None, workload={}, reference_arm="r", config={}, environment={}, timing={}, runs=[],
        mechanism=[], conventions={}, extra={"summary": {}, "merged_from": {}},
    )  # fmt: skip
    assert list(art)[-3:] == ["runs", "summary", "merged_from"]


# ------------------------------------------------------------------ the reference arm, recorded


def _renamed_reference(a: dict, new: str) -> dict:
    """``a`` as if its workload's reference arm were called ``new`` (recorded as 2.1 records it)."""
    a = upgrade(copy.deepcopy(a))
    old = a["reference_arm"]
    for r in a["runs"]:
        if r["arm"] == old:
            r["arm"] = new
        r.get("swap", {})[new] = r.get("swap", {}).pop(old, None)
    if a.get("conventions"):
        a["conventions"]["arms"][new] = a["conventions"]["arms"].pop(old)
    a["reference_arm"] = new
    return a


def test_this_paritybench_writes_schema_2_1_with_the_reference_arm_after_the_workload():
    assert SCHEMA_VERSION == "2.1"
    art = build_artifact(
        kind="run", config_hash=None, workload={"name": "seed-bce", "version": "1"}, reference_arm="ref-x",
        config={}, environment={}, timing={}, runs=[],
    )  # fmt: skip
    assert list(art)[5:7] == ["workload", "reference_arm"] and art["reference_arm"] == "ref-x"
    schema = artifact.schema()["properties"]["reference_arm"]
    assert schema["type"] == "string" and schema["minLength"] == 1


def test_an_artifact_with_an_empty_or_non_string_reference_arm_is_invalid():
    base = json.loads((ROOT / "results/baselines/seed-bce-cpu.json").read_text())
    for bad in ("", 3, None):
        errors = artifact.validation_errors({**base, "schema_version": "2.1", "reference_arm": bad})
        assert errors and errors[0].startswith("reference_arm:"), (bad, errors)
    assert artifact.validation_errors({**base, "schema_version": "2.1", "reference_arm": "reference-f64"}) == []


# The committed run baselines (every kind "run", schema 1.0 and 2.0); the sweeps (up to 1.8 MB) take seconds
# each to validate and go through the same code.
RUN_BASELINES = sorted(p for p in (ROOT / "results/baselines").glob("*.json") if p.stat().st_size < 300_000)


@pytest.mark.parametrize("path", RUN_BASELINES, ids=lambda p: p.name)
def test_committed_baselines_still_validate_and_read_as_reference_f64(path):
    a = artifact.check_artifact_file(path)  # valid as written
    old = a["schema_version"] in ("1.0", "2.0")  # written before 2.1 recorded the reference arm
    assert (
        ("reference_arm" not in a) if old else (a["schema_version"] == "2.1" and a["reference_arm"] == "reference-f64")
    )
    up = upgrade(a)
    assert up["reference_arm"] == "reference-f64" == artifact.reference_arm(a)
    assert any(r["arm"] == "reference-f64" for r in up["runs"])
    assert ("reference_arm" not in a) == old  # upgrade copies: the artifact read stays as written


def test_upgrade_keeps_a_recorded_reference_arm():
    base = json.loads((ROOT / "results/baselines/seed-bce-cpu.json").read_text())
    assert upgrade({**base, "reference_arm": "ref-x"})["reference_arm"] == "ref-x"


def test_report_measures_the_gap_against_the_recorded_reference():
    a = _renamed_reference(json.loads((ROOT / "results/baselines/seed-bce-cpu.json").read_text()), "truth64")
    text = "\n".join(report.answer_from_run(a))
    assert "`truth64` (float64) ends at" in text and "reference-f64" not in text
    gap = "\n".join(gap_lines(a, report._first_case(a)))
    assert "gap vs `truth64`" in gap and "| `truth64` |" not in gap  # the reference is the yardstick, not a row
    # an artifact whose recorded reference did not run: said, not a KeyError
    a["reference_arm"] = "absent-arm"
    assert report.answer_from_run(a) == [
        "This artifact has no `absent-arm` run, so no arm can be measured against the ground truth."
    ]


def test_the_seed_table_takes_its_reference_column_from_the_artifact():
    base = json.loads((ROOT / "results/baselines/seed-bce-cpu.json").read_text())
    assert swap_columns(base) == {"jax": "jax", "keras-tensorflow": "keras-tf", "reference-f64": "f64"}
    a = _renamed_reference(base, "reference-f128")
    assert list(swap_columns(a).items())[-1] == ("reference-f128", "f128")
    console = Console(width=200, record=True)
    print_run_table(console, a)
    out = console.export_text()
    assert "f128 fwd" in out and "f64 fwd" not in out
    row = next(line for line in out.splitlines() if "jax-logits" in line)
    assert f"{a['runs'][4]['swap']['reference-f128']:.3f}" in row


def test_nodes_split_pairs_each_arm_with_the_recorded_reference():
    runs = [
        {"arm": arm, "seed": 0, "window_start": w, "status": "ok", "final_accuracy": acc, "node": "n0"}
        for arm, w, acc in (("truth", 0, 0.9), ("truth", 1, 0.8), ("port", 0, 0.5), ("port", 1, 0.6))
    ]
    split = split_summary({"runs": runs, "reference_arm": "truth"})
    assert split["n0"]["port"]["paired_diff_mean"] == pytest.approx(-0.3)
    assert split_summary({"runs": runs})["n0"]["port"]["paired_diff_mean"] is None  # reference-f64: no such arm


# ------------------------------------------------------------------ a version on every file paritybench writes


@pytest.mark.parametrize("version", ["1.0", "1.7", None])
def test_a_format_this_paritybench_reads(version):
    data = {} if version is None else {formats.FORMAT_FIELD: version}  # None: written before versions, read as 1.0
    assert formats.format_problem(data, "1.0", "catalogue index") is None


@pytest.mark.parametrize(
    ("version", "says"),
    [
        ("2.0", "catalogue index format_version 2.0 has major 2, this paritybench reads major 1: use a paritybench"),
        ("1", "format_version '1' is not a version (MAJOR.MINOR): undo the edit"),
        (1.0, "format_version 1.0 is not a version (MAJOR.MINOR)"),
    ],
)
def test_a_format_this_paritybench_refuses_in_one_line(version, says):
    with pytest.raises(ParityError) as exc:
        formats.check_format({formats.FORMAT_FIELD: version}, "1.0", "catalogue index", "x/index.json")
    assert str(exc.value).startswith("x/index.json: ") and says in str(exc.value)
    assert "\n" not in str(exc.value) and exc.value.exit_code == 2


def _index(tmp_path, **fields):
    (tmp_path / "seed-bce.json").write_text("{}")
    entries = [{"workload": "seed-bce", "path": "seed-bce.json", "status": "ok"}]
    idx = tmp_path / "index.json"
    idx.write_text(json.dumps({**index_record("2026-11-26T00:00:00+00:00", 1.5, entries), **fields}))
    return idx


def test_the_catalogue_index_carries_its_version_and_an_unknown_major_is_refused(tmp_path):
    idx = _index(tmp_path)
    written = json.loads(idx.read_text())
    assert list(written)[:2] == ["kind", "format_version"] and written["format_version"] == formats.CATALOGUE_INDEX
    assert read_index(idx)["workloads"][0]["workload"] == "seed-bce"
    idx = _index(tmp_path, format_version="2.0")
    with pytest.raises(ParityError, match=r"index.json: catalogue index format_version 2.0 has major 2, this parity"):
        read_index(idx)


def test_a_localize_record_carries_its_version_and_an_unknown_major_is_refused(tmp_path):
    assert formats.LOCALIZE_RECORD == "1.0"
    rec = {"kind": "localize", "format_version": "1.0", "pairs": []}
    p = tmp_path / "rec.json"
    p.write_text(json.dumps(rec))
    assert localize_plot.load(p) == rec
    p.write_text(json.dumps({k: v for k, v in rec.items() if k != "format_version"}))  # before versions
    assert localize_plot.load(p)["kind"] == "localize"
    p.write_text(json.dumps({**rec, "format_version": "2.1"}))
    with pytest.raises(ParityError, match=r"rec.json: localize record format_version 2.1 has major 2, this parity"):
        localize_plot.load(p)


def test_the_sweep_checkpoint_carries_its_version_and_an_unknown_major_is_refused(tmp_path):
    path = tmp_path / "s.json.partial.jsonl"
    Checkpoint(path, {"command": "sweep", "config": {}})
    first = json.loads(path.read_text().splitlines()[0])
    assert list(first) == ["format_version", "header"] and first["format_version"] == formats.SWEEP_CHECKPOINT
    assert Checkpoint.read(path) == ({"command": "sweep", "config": {}}, [])
    path.write_text(json.dumps({"header": {"command": "sweep"}}) + "\n")  # before versions: read as 1.0
    assert Checkpoint.read(path)[0] == {"command": "sweep"}
    path.write_text(json.dumps({"format_version": "3.0", "header": {"command": "sweep"}}) + "\n")
    for read in (Checkpoint.read, Checkpoint.load):
        with pytest.raises(ParityError, match=r"partial.jsonl: checkpoint format_version 3.0 has major 3, this parit"):
            read(path)


# ------------------------------------------------------------------ one output-safety module, one lock, one seed limit

CAP = "is too large: values must be below 2**31 (2147483648), the range of a 32-bit seed or index"


def test_one_seed_limit_with_one_wording_for_the_command_line_and_the_checkpoint():
    assert too_large(2**31 - 1, "--seeds") is None
    assert too_large(2**31, "--seeds") == f"--seeds: 2147483648 {CAP}"
    with pytest.raises(ParityError) as cli_error:
        parse_int_list("0-2147483648", "seeds")
    assert str(cli_error.value) == f"--seeds '0-2147483648': 2147483648 {CAP}"
    header = {"command": "sweep", "config": {**RunConfig(arms=("jax-logits",)).to_dict(), "seeds": [0, 2**40]}}
    assert header_problem(header) == f"config.seeds: {2**40} {CAP}"
    header["config"] = {**header["config"], "seeds": [0], "windows": [2**31]}
    assert header_problem(header) == f"config.windows: {2**31} {CAP}"
    with pytest.raises(ParityError, match=re.escape(f"--seeds: {2**31} {CAP}")):
        precheck_inputs(RunConfig(seeds=(2**31,)))


def test_the_output_safety_names_live_in_one_module():
    assert not (ROOT / "src/paritybench/artifact/outputs.py").exists()
    for name in ("check_output_path", "check_output_dir", "write_output", "plan_outputs", "OutputClaim", "commit_pair"):
        assert callable(getattr(safeout, name)), name
    # one probe, one nearest-existing walk: the run's plan and a named output say the same about /proc
    with pytest.raises(ParityError, match="cannot create files in /proc"):
        safeout.check_output_dir("/proc/x", "--out")


def test_write_output_publishes_whole_and_never_replaces_without_overwrite(tmp_path):
    p = tmp_path / "sub" / "a.txt"
    assert safeout.write_output(p, b"one") == p and p.read_bytes() == b"one"
    with pytest.raises(ParityError, match="appeared while paritybench was working"):
        safeout.write_output(p, b"two")
    assert p.read_bytes() == b"one"
    safeout.write_output(p, b"two", overwrite=True)
    assert p.read_bytes() == b"two" and sorted(x.name for x in p.parent.iterdir()) == ["a.txt"]


def test_one_lock_for_the_claim_and_the_sweep(tmp_path):
    art = tmp_path / "s.json"
    assert safeout.lock_path(art) == lock_path(art) == tmp_path / "s.json.lock"
    with SweepLock(art):
        assert lock_path(art).read_text().strip() == str(os.getpid())
        assert safeout.flock_nonblocking(lock_path(art)) is None  # the same flock: held, so refused
    fd = safeout.flock_nonblocking(lock_path(art))  # released with the sweep: taken at once
    assert fd is not None
    try:
        with pytest.raises(ParityError, match=r"another paritybench is writing .*s.json \(pid unknown\)"):
            SweepLock(art).acquire()
    finally:
        os.close(fd)


def test_the_typed_run_record_names_every_field_of_the_schemas_run():
    run = artifact.schema()["$defs"]["run"]
    assert set(RunRecord.__annotations__) == set(run["properties"])
    assert set(run["required"]) == RunRecord.__required_keys__
