"""The workload interface: discovery, loading from every kind of spec, checks, and the rules the
generic machinery keeps (no framework in the Keras worker's imports, no second list of arm names)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace

import pytest

from paritybench import workloads
from paritybench.errors import ParityError
from paritybench.workloads.base import check

from .conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "tanh_adam.py"


def test_workloads_command_lists_builtins_with_their_questions():
    proc = run_cli("workloads", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    assert "seed-bce" in proc.stdout and "softmax-ce" in proc.stdout
    assert "0.909" in proc.stdout  # the seed's question names the figure it asks about


def test_unknown_workload_lists_the_valid_ones(tmp_path):
    proc = run_cli("run", "--workload", "no-such-thing", "--out", str(tmp_path / "a.json"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "seed-bce" in proc.stderr and "softmax-ce" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_unknown_arm_is_named_with_the_workloads_arms(tmp_path):
    proc = run_cli("run", "--workload", "softmax-ce", "--arms", "jax-seed-stable", "--out", str(tmp_path / "a.json"))
    assert proc.returncode == 2 and "softmax-ce" in proc.stderr and "jax-keras-clip" in proc.stderr


def test_a_file_a_module_attr_and_a_name_load_the_same_kind_of_object():
    by_file = workloads.load(str(EXAMPLE))
    assert by_file.name == "tanh-adam" and by_file.origin["source"] == "file"
    assert len(by_file.origin["sha256"]) == 64
    by_ref = workloads.load("paritybench.workloads.softmax_ce:WORKLOAD")
    assert by_ref.name == "softmax-ce" and by_ref.origin["source"] == "module"
    builtin = workloads.load("seed-bce").origin
    assert {k: builtin[k] for k in ("source", "spec")} == {"source": "builtin", "spec": "seed-bce"}
    assert len(builtin["sha256"]) == 64  # the content of its folder (issue 21)


def test_an_installed_package_is_found_through_its_entry_point(tmp_path):
    """A package that declares ``[project.entry-points."paritybench.workloads"]`` is listed and runs,
    the way pytest finds plugins: here a minimal installed distribution on PYTHONPATH."""
    pkg = tmp_path / "site" / "mywl"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(EXAMPLE.read_text().replace('name="tanh-adam"', 'name="my-tanh"'))
    dist = tmp_path / "site" / "mywl-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mywl\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[paritybench.workloads]\nmy-tanh = mywl:WORKLOAD\n")
    env = {"PYTHONPATH": str(tmp_path / "site"), "COLUMNS": "200"}
    listed = run_cli("workloads", env=env)
    assert listed.returncode == 0 and "my-tanh" in listed.stdout, listed.stderr
    out = tmp_path / "ep.json"
    proc = run_cli(
        "run",
        "--workload",
        "my-tanh",
        "--arms",
        "jax-adam",
        "--steps",
        "2",
        "--n",
        "100",
        "--no-weights",
        "--out",
        str(out),
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = json.loads(out.read_text())
    assert a["workload"]["name"] == "my-tanh" and a["workload"]["source"] == "entry-point"
    assert a["workload"]["package"] == "mywl 0.1" and a["runs"][0]["workload"]["name"] == "my-tanh"


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(name="Not_Kebab"), "kebab-case"),
        (dict(fix="jax-nothing"), "fix"),
        (dict(reference="jax-logits"), "float64 arbiter"),
    ],
)
def test_malformed_workloads_are_refused_with_one_line(change, message):
    w = replace(workloads.load("seed-bce"), **change)
    with pytest.raises(ParityError, match=message):
        check(w, "test")


def test_an_emulation_must_name_a_keras_arm():
    w = workloads.load("seed-bce")
    arms = tuple(replace(a, emulates="jax-logits") if a.name == "jax-keras-clip" else a for a in w.arms)
    with pytest.raises(ParityError, match="not a Keras arm"):
        check(replace(w, arms=arms), "test")


def test_a_file_without_workload_is_one_line(tmp_path):
    f = tmp_path / "empty.py"
    f.write_text("X = 1\n")
    proc = run_cli("run", "--workload", str(f), "--out", str(tmp_path / "a.json"))
    assert proc.returncode == 2 and "defines no WORKLOAD" in proc.stderr and "Traceback" not in proc.stderr


def test_keras_worker_imports_no_jax_unless_jax_is_its_backend():
    code = textwrap.dedent("""
        import os, sys
        os.environ["KERAS_BACKEND"] = "tensorflow"
        from paritybench.arms import keras_worker
        from paritybench.experiment import heads, weights, data, flags
        from paritybench import workloads
        from paritybench.arms import base
        for spec in ("seed-bce", "softmax-ce"):
            workloads.load(spec)
        print(sorted(m for m in ("jax", "optax", "tensorflow", "torch", "keras") if m in sys.modules))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_arm_names_are_declared_once():
    """No module outside a workload's folder spells an arm name (the registry is the declaration)."""
    src = ROOT / "src" / "paritybench"
    offenders = []
    for path in src.rglob("*.py"):
        if "workloads" in path.relative_to(src).parts:
            continue
        text = path.read_text()
        offenders += [
            f"{path.relative_to(src)}: {name}" for name in ("jax-seed-stable", "jax-keras-clip") if f'"{name}"' in text
        ]
    assert offenders == []


def test_seed_workload_declares_every_emulation_and_the_classes_compare_uses():
    w = workloads.load("seed-bce")
    assert w.emulations == {
        "keras-jax": "jax-keras-clip",
        "keras-torch": "jax-keras-torch-clip",
        "keras-tensorflow": "jax-logits",
    }
    assert w.expected_classes["jax-seed-stable"] == "chaotic" and w.expected_classes["jax-logits"] == "stable"
    assert all(a.evidence for a in w.arms)
