"""Sharded sweeps (sweep --shard I/N) and paritybench merge: partition, refusals, bit-identity."""

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from paritybench.errors import ParityError
from paritybench.pipeline.runner import Case
from paritybench.studies import shard

from .conftest import ROOT, run_cli, trained_once

TINY = [
    "sweep",
    "--arms",
    "jax-logits,reference-f64",
    "--steps",
    "2",
    "--n",
    "100",
    "--seeds",
    "0-2",
    "--windows",
    "0,100",
]


def content(artifact):
    """What must not depend on where or how a run trained: every run but its timings and node."""
    return [{k: v for k, v in r.items() if k not in ("info", "node")} for r in artifact["runs"]]


def test_arm_costs_are_the_baselines_measured_train_seconds():
    art = json.loads((ROOT / "results" / "baselines" / "sweep-cpu.json").read_text())
    measured = shard.measured_arm_costs(art)
    assert {a: round(v, 3) for a, v in measured.items()} == {
        a: v for a, v in shard.ARM_COST_SECONDS.items() if a != "keras-torch"
    }
    # what the partition's weights encode: Keras and the f64 reference are dearer than the JAX arms
    assert min(measured["keras-tensorflow"], measured["keras-jax"], measured["f64"]) > measured["jax"]


@pytest.mark.parametrize("text", ["3/3", "1", "a/b", "0/0", "-1/2"])
def test_bad_shard_is_refused(text):
    with pytest.raises(ParityError, match="--shard"):
        shard.parse_shard(text)


@pytest.mark.parametrize("seeds,windows,count", [(10, 10, 4), (10, 10, 7), (3, 2, 3), (1000, 10, 64), (5, 1, 5)])
def test_partition_covers_the_grid_once_balanced_and_deterministic(seeds, windows, count):
    cases = [Case(s, w * 1000) for s in range(seeds) for w in range(windows)]
    pieces = shard.partition(cases, lambda c: 2.86, count)
    flat = [c for p in pieces for c in p]
    assert sorted(flat, key=lambda c: (c.seed, c.window)) == sorted(cases, key=lambda c: (c.seed, c.window))
    assert len(set(flat)) == len(cases)
    sizes = [len(p) for p in pieces]
    assert max(sizes) - min(sizes) <= 1 and min(sizes) >= 1
    # the same input in another order gives the same shards (a batch system's runners agree)
    assert shard.partition(list(reversed(cases)), lambda c: 2.86, count) == pieces


def test_partition_balances_unequal_costs():
    # a resumed sweep: window 0's cases still have their dear arms to train, window 1's only a JAX arm
    cases = [Case(s, w) for s in range(40) for w in (0, 1)]
    cost = {c: (1.188 + 0.476 if c.window == 0 else 0.176) for c in cases}
    pieces = shard.partition(cases, cost.__getitem__, 4)
    loads = [sum(cost[c] for c in p) for p in pieces]
    total = sum(cost.values())
    assert max(loads) <= total / 4 + max(cost.values())
    assert len({len(p) for p in pieces}) > 1  # counts differ: the cut is by cost, not by count


def test_too_many_shards_is_refused_before_training(tmp_path):
    out = tmp_path / "s.json"
    res = run_cli(*TINY, "--shard", "0/7", "--out", str(out))
    assert res.returncode == 2 and "only 6 cases" in res.stderr and res.stderr.count("\n") == 1
    assert not out.exists() and not (tmp_path / "s.json.partial.jsonl").exists()


def tiny_sweep(tmp_path_factory) -> Path:
    """The unsharded TINY sweep's artifact, trained once per session for this file and tests/test_ray.py."""
    path, _ = trained_once(tmp_path_factory, "tiny-sweep", *TINY)
    return path


@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """The three shards of TINY, and the unsharded sweep beside them as full.json."""
    d = tmp_path_factory.mktemp("shards")
    shutil.copyfile(tiny_sweep(tmp_path_factory), d / "full.json")
    for i in range(3):
        res = run_cli(*TINY, "--shard", f"{i}/3", "--out", str(d / f"s{i}.json"))
        assert res.returncode == 0, res.stderr[-2000:]
    return d


def test_shards_are_partial_artifacts_of_one_grid(sharded):
    arts = [json.loads((sharded / f"s{i}.json").read_text()) for i in range(3)]
    assert all(a["kind"] == "sweep-shard" for a in arts)
    assert len({a["shard"]["grid_sha256"] for a in arts}) == 1
    cases = [tuple(c) for a in arts for c in a["shard"]["cases"]]
    assert Counter(cases) == Counter((s, w) for s in range(3) for w in (0, 100))
    assert [len(a["runs"]) for a in arts] == [4, 4, 4]
    assert all(r["node"] in a["nodes"] for a in arts for r in a["runs"])


def test_merged_shards_are_bit_identical_to_the_unsharded_sweep(sharded, tmp_path):
    out = tmp_path / "merged.json"
    # any order of the shard files
    res = run_cli("merge", *(str(sharded / f"s{i}.json") for i in (2, 0, 1)), "--out", str(out))
    assert res.returncode == 0, res.stderr[-2000:]
    assert run_cli("validate", str(out)).returncode == 0
    merged, full = json.loads(out.read_text()), json.loads((sharded / "full.json").read_text())
    assert merged["kind"] == "sweep" and "shard" not in merged
    assert [r["final_weights_sha256"] for r in merged["runs"]] == [r["final_weights_sha256"] for r in full["runs"]]
    assert content(merged) == content(full)
    assert merged["summary"] == full["summary"] and merged["windows_info"] == full["windows_info"]
    assert merged["merged_from"]["count"] == 3
    assert merged["node_differences"] == {"hardware": [], "software": []}


def test_merge_names_the_missing_shard(sharded, tmp_path):
    res = run_cli("merge", str(sharded / "s0.json"), str(sharded / "s2.json"), "--out", str(tmp_path / "m.json"))
    assert res.returncode == 2 and "missing shard(s) 1 of 3" in res.stderr and "--shard 1/3" in res.stderr
    assert not (tmp_path / "m.json").exists()


def test_merge_refuses_a_shard_twice(sharded, tmp_path):
    dup = tmp_path / "dup.json"
    shutil.copy(sharded / "s1.json", dup)
    res = run_cli(
        "merge", *(str(sharded / f"s{i}.json") for i in range(3)), str(dup), "--out", str(tmp_path / "m.json")
    )
    assert res.returncode == 2 and "shard 1/3 given twice" in res.stderr


def test_merge_refuses_overlapping_runs(sharded, tmp_path):
    # a shard claiming index 2 but holding shard 1's runs
    a = json.loads((sharded / "s1.json").read_text())
    a["shard"]["index"] = 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(a))
    res = run_cli(
        "merge", str(sharded / "s0.json"), str(sharded / "s1.json"), str(bad), "--out", str(tmp_path / "m.json")
    )
    assert res.returncode == 2 and "overlap" in res.stderr


def test_merge_refuses_shards_of_another_sweep(sharded, tmp_path):
    a = json.loads((sharded / "s2.json").read_text())
    a["config"]["lr"] = 0.02
    other = tmp_path / "other.json"
    other.write_text(json.dumps(a))
    res = run_cli(
        "merge", str(sharded / "s0.json"), str(sharded / "s1.json"), str(other), "--out", str(tmp_path / "m.json")
    )
    assert res.returncode == 2 and "config differs in lr" in res.stderr
    a = json.loads((sharded / "s2.json").read_text())
    a["environment"]["data"]["sha256"] = "0" * 64
    other.write_text(json.dumps(a))
    res = run_cli(
        "merge", str(sharded / "s0.json"), str(sharded / "s1.json"), str(other), "--out", str(tmp_path / "m2.json")
    )
    assert res.returncode == 2 and "data sha256" in res.stderr


def test_merge_refuses_a_whole_sweep(sharded, tmp_path):
    res = run_cli("merge", str(sharded / "full.json"), "--out", str(tmp_path / "m.json"))
    assert res.returncode == 2 and "not a sweep shard" in res.stderr


def test_nodes_splits_a_sweep_by_machine(sharded, tmp_path):
    res = run_cli("nodes", str(sharded / "full.json"), "--json", str(tmp_path / "n.json"))
    assert res.returncode == 0, res.stderr
    split = json.loads((tmp_path / "n.json").read_text())
    ((node, arms),) = split["by_node"].items()
    assert arms["jax-logits"]["runs"] == 6 and arms["reference-f64"]["paired_diff_max_abs"] == 0.0


def test_node_differences_name_hardware_and_packages():
    from paritybench.studies.nodes import differences

    a = {"hostname": "a", "cpu": "Xeon", "devices": ["cpu:0"], "python": "3.13.0", "packages": {"jax": "0.8"}}
    b = {**a, "hostname": "b"}
    assert differences({"a": a, "b": b}) == {"hardware": [], "software": []}
    c = {**a, "hostname": "c", "cpu": "EPYC", "packages": {"jax": "0.9"}}
    assert differences({"a": a, "c": c}) == {"hardware": ["cpu"], "software": ["packages.jax"]}
