import os
import signal
import subprocess
import sys
import time

from .conftest import ROOT, run_cli


def test_bad_arm_name_lists_the_valid_ones(tmp_path):
    proc = run_cli("run", "--arms", "jax-logits,keras-mxnet", "--out", str(tmp_path / "a.json"))
    assert proc.returncode == 2
    line = proc.stderr.strip()
    assert "\n" not in line and "unknown arm keras-mxnet" in line and "jax-naive" in line
    assert list(tmp_path.iterdir()) == []


def test_bad_data_file_writes_no_artifact(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    proc = run_cli("run", "--data", str(bad), "--arms", "reference-f64", "--out", str(tmp_path / "a.json"))
    assert proc.returncode == 2 and "truncated or not an npz" in proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.npz"]


def test_window_past_end_is_one_line_and_no_artifact(tmp_path):
    proc = run_cli("run", "--windows", "9500", "--arms", "reference-f64", "--out", str(tmp_path / "a.json"))
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "runs past the end" in proc.stderr
    assert list(tmp_path.iterdir()) == []


def test_bad_ranges_and_values_are_rejected(tmp_path):
    for args, msg in ((["--seeds", "a-b"], "--seeds"), (["--steps", "0"], "--steps"), (["--lr", "-1"], "--lr")):
        proc = run_cli("run", *args, "--out", str(tmp_path / "a.json"))
        assert proc.returncode == 2 and msg in proc.stderr, proc.stderr


def test_existing_artifact_is_never_overwritten(tmp_path):
    out = tmp_path / "a.json"
    out.write_text("{}")
    proc = run_cli("run", "--arms", "reference-f64", "--out", str(out))
    assert proc.returncode == 2 and "already exists" in proc.stderr
    assert out.read_text() == "{}"


def test_killed_run_leaves_no_partial_file(tmp_path):
    out = tmp_path / "killed.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "paritybench", "run", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    time.sleep(8)  # well inside training: the seed preset takes ~30 s here
    assert proc.poll() is None, "run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert list(tmp_path.iterdir()) == []


def test_validate_reports_an_invalid_artifact(tmp_path):
    p = tmp_path / "x.json"
    p.write_text('{"schema_version": "1.0", "runs": []}')
    proc = run_cli("validate", str(p))
    assert proc.returncode == 1 and "is invalid" in proc.stderr and "created_at" in proc.stderr
    p.write_text("{not json")
    proc = run_cli("validate", str(p))
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr
