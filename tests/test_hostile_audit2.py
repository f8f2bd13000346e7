"""Hostile cases from the second audit's remaining causes (issue 21).

Each CLI case asserts the exit status, that stderr holds exactly one ``paritybench: error:``
line and no traceback, and what is (not) left on disk. The CLI runs in a fresh process with
its working directory and TMPDIR in the test's own folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SMALL = ["--arms", "jax-logits,reference-f64", "--steps", "2", "--n", "100"]


def cli(
    *args: str, cwd: Path, tmpdir: Path | None = None, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    if tmpdir is not None:
        full["TMPDIR"] = str(tmpdir)
    return subprocess.run(
        [sys.executable, "-m", "paritybench", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full
    )


def one_error(proc: subprocess.CompletedProcess, rc: int = 2, *fragments: str) -> str:
    """Assert exit status ``rc``, exactly one error line (with each fragment), no traceback."""
    assert proc.returncode == rc, (proc.returncode, proc.stderr[-3000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("paritybench: error:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ------------------------------------------------- read-back: FIFO weights, duplicate runs


def test_compare_refuses_a_fifo_weights_file_without_blocking(tmp_path):
    """A FIFO where the weights file should be used to block ``compare`` forever (open waits for a writer)."""
    artifact = json.loads((DATA / "run-seed0.json").read_text())
    artifact["weights_file"] = "good.weights.npz"
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "good.json").write_text(json.dumps(artifact))
    os.mkfifo(tmp_path / "x" / "good.weights.npz")
    proc = cli("compare", str(DATA / "run-seed0.json"), "x/good.json", cwd=tmp_path, timeout=60)
    one_error(proc, 2, "good.weights.npz", "not a regular file")


def test_validate_refuses_a_duplicate_run_as_compare_does(tmp_path):
    artifact = json.loads((DATA / "run-seed0.json").read_text())
    artifact["runs"].append(dict(artifact["runs"][0]))
    (tmp_path / "dup.json").write_text(json.dumps(artifact))
    arm = artifact["runs"][0]["arm"]
    v = one_error(cli("validate", "dup.json", cwd=tmp_path), 1, "two runs for", arm)
    c = one_error(cli("compare", "dup.json", str(DATA / "run-seed0.json"), cwd=tmp_path), 2)
    assert v == c  # one check, one message
