"""``paritybench explain`` from the command line: a built-in workload end to end (adam-epsilon's literal port
is explained by Adam's epsilon placement), and its refusals: one line, a non-zero status, and no --out file."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


def _one_line_error(proc, *words: str) -> None:
    assert proc.returncode != 0, proc.stdout[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("paritybench: error: "), proc.stderr[-2000:]
    assert all(w in lines[0] for w in words), lines[0]


def test_adam_epsilon_literal_port_is_explained_by_epsilon_placement(tmp_path):
    out = tmp_path / "explain.json"
    proc = run_cli(
        "explain", "--workload", "adam-epsilon", "--arms", "jax-adam-literal", "--steps", "2", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(out.read_text())
    assert rec["kind"] == "explain" and rec["workload"] == "adam-epsilon" and rec["format_version"] == "1.0"
    (pair,) = rec["pairs"]
    assert (pair["a"], pair["b"]) == ("jax-adam-literal", "reference-f64")
    assert pair["parted"]["step"] == 0 and pair["parted"]["phase"] == "update", pair["parted"]
    top = pair["switches"][0]
    assert top["name"] == "adam epsilon placement" and top["closes"] and top["demonstrated_by"] == "adam-epsilon"
    assert top["ratio_before"] > 1e3 and top["ratio_after"] < 100, top
    assert not any(s["closes"] for s in pair["switches"][1:])
    assert "adam epsilon placement closes the gap" in proc.stdout


@pytest.mark.parametrize(
    "args, words",
    [
        (["--workload", "adam-epsilon", "--arms", "no-such-arm"], ("no-such-arm",)),
        (["--workload", "no-such-workload"], ("no-such-workload",)),
        (["--workload", "adam-epsilon", "--steps", "0"], ("--steps",)),
        (["--workload", "init-defaults"], ("own initial weights", "Arm.init")),
    ],
)
def test_bad_input_is_one_line_and_leaves_no_file(tmp_path, args, words):
    out = tmp_path / "explain.json"
    proc = run_cli("explain", *args, "--out", str(out), timeout=300)
    _one_line_error(proc, *words)
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_an_existing_out_file_is_refused_and_kept(tmp_path):
    out = tmp_path / "explain.json"
    out.write_text("mine")
    proc = run_cli("explain", "--workload", "adam-epsilon", "--arms", "jax-adam-literal", "--out", str(out))
    _one_line_error(proc, str(out))
    assert out.read_text() == "mine"


def test_api_explain_returns_the_record_and_the_verdict(tmp_path):
    """``api.explain`` beside ``api.localize``: the command's own code, the record at ``out``, one pair's verdict."""
    import subprocess
    import sys

    out = tmp_path / "e.json"
    code = (
        "from paritybench import api\n"
        f"r = api.explain('label-shape', 'jax-broadcast', steps=1, out={str(out)!r})\n"
        "print(r.record, '|', r.verdict, '|', r.pairs[0]['switches'][0]['name'])\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record, verdict, top = (x.strip() for x in proc.stdout.strip().splitlines()[-1].split("|"))
    assert record == str(out) and json.loads(out.read_text())["kind"] == "explain"
    assert top == "label shape (per-sample loss)" and verdict.startswith("label shape (per-sample loss) closes")
