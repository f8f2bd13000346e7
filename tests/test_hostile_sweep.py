"""Hostile cases for the sweep's checkpoint and resume (issue 9, causes 5-9), run as a user would.

Each case asserts the exit status, the one-line error (exactly one ``paritybench: error:``
line on stderr, no traceback) and what is, or is not, left on disk.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from paritybench.experiment.data import bundled_path
from paritybench.studies.checkpoint import Checkpoint, Loaded, Sweep, SweepLock, checkpoint_path, lock_path

from .conftest import ROOT, run_cli

GRID = ["--arms", "jax-logits,reference-f64", "--steps", "2", "--n", "100", "--seeds", "0-1", "--windows", "0"]


def _content(artifact: dict) -> list[dict]:
    """What must not depend on an interruption: every run but its timings."""
    return [{k: v for k, v in r.items() if k != "info"} for r in artifact["runs"]]


def _one_error(res: subprocess.CompletedProcess, code: int, *fragments: str) -> str:
    """The single ``paritybench: error:`` line, after checking the exit status and that there is no traceback."""
    assert res.returncode == code, (res.returncode, res.stderr[-3000:])
    assert "Traceback" not in res.stderr, res.stderr[-3000:]
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("paritybench: error:")]
    assert len(errors) == 1, res.stderr
    for f in fragments:
        assert f in errors[0], (f, errors[0])
    return errors[0]


def _start(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "paritybench", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def _header_only_checkpoint(out: Path, *extra: str) -> str:
    """A real checkpoint as a kill leaves it before any run finished: start a sweep, SIGKILL it once
    the header exists (training needs seconds of imports and compiling after that)."""
    proc = _start("sweep", *GRID, *extra, "--out", str(out))
    ckpt = checkpoint_path(out)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and not ckpt.exists():
        time.sleep(0.01)
    assert proc.poll() is None, "the sweep ended before its checkpoint could be caught"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    lines = ckpt.read_text().splitlines()
    assert len(lines) == 1 and "header" in json.loads(lines[0])
    return lines[0]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict:
    """The uninterrupted tiny sweep."""
    out = tmp_path_factory.mktemp("ref") / "ref.json"
    res = run_cli("sweep", *GRID, "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert sorted(os.listdir(out.parent)) == ["ref.json"]
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def header_line(tmp_path_factory) -> str:
    return _header_only_checkpoint(tmp_path_factory.mktemp("hdr") / "h.json")


def _lines(runs: list[dict]) -> list[str]:
    return [json.dumps(r, allow_nan=False) for r in runs]


# ---------------------------------------------------------------------------------------------
# cause 5: cut and damaged lines, hand-edited headers


def test_append_after_a_cut_line_is_not_glued_onto_it(tmp_path):
    p = tmp_path / "x.json.partial.jsonl"
    run = {"arm": "a", "seed": 0, "window_start": 0}
    ck = Checkpoint(p, {"config": {}})
    ck.append(run)
    with open(p, "a") as fh:
        fh.write('{"arm": "b", "se')  # a kill in the middle of a write
    ck = Checkpoint(p)
    assert ck.drop_cut_tail() == len('{"arm": "b", "se')
    ck.append({**run, "seed": 1})
    ck.close()
    text = p.read_text()
    assert text.endswith("\n") and [json.loads(ln)["seed"] for ln in text.splitlines()[1:]] == [0, 1]


@pytest.mark.slow
def test_cut_and_damaged_lines_are_dropped_and_redone(tmp_path, reference, header_line):
    out = tmp_path / "s.json"
    runs = reference["runs"]
    bad_status = {k: v for k, v in runs[1].items() if k != "status"}  # a run record missing a key
    foreign = {**runs[0], "seed": 7}  # a run that is not part of this sweep
    body = [
        header_line,
        _lines(runs[:1])[0],
        "{garbage",
        json.dumps(bad_status),
        json.dumps(foreign),
        _lines(runs[2:3])[0],
    ]
    # ... and a last line cut in the middle of run 4, as a kill or a full disk leaves it
    checkpoint_path(out).write_text("\n".join(body) + "\n" + _lines(runs[3:4])[0][:100])
    res = run_cli("sweep", "--resume", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    said = " ".join(res.stdout.split())
    assert "removed a last line cut by an interruption" in said
    assert "dropped 3 damaged lines: line 3 (not valid JSON), line 4 (" in said
    assert "resuming" in said and "2 runs already finished" in said
    assert _content(json.loads(out.read_text())) == _content(reference)
    assert sorted(os.listdir(tmp_path)) == ["s.json"]  # no checkpoint, no lock


@pytest.mark.parametrize(
    "edit, fragment",
    [
        (lambda h: h["config"].update(steps="two"), "config.steps: 'two' is not of type 'integer'"),
        (lambda h: h.pop("config"), "'config' is a required property"),
        (lambda h: h["config"].pop("numerics"), "'numerics' is a required property"),
        (lambda h: h["config"].update(arms=["no-such-arm"]), "config.arms.0"),
        (lambda h: h["config"].update(stepz=2), "unknown key 'stepz'"),
        (lambda h: h["data"].update(sha256="abc"), "data.sha256"),
    ],
)
def test_hand_edited_header_is_one_line_naming_line_1(tmp_path, header_line, edit, fragment):
    out = tmp_path / "s.json"
    h = json.loads(header_line)
    edit(h["header"])
    text = json.dumps(h) + "\n"
    checkpoint_path(out).write_text(text)
    res = run_cli("sweep", "--resume", str(out))
    _one_error(res, 2, f"checkpoint {checkpoint_path(out)} line 1", fragment, "undo the edit")
    assert checkpoint_path(out).read_text() == text and sorted(os.listdir(tmp_path)) == [checkpoint_path(out).name]


def test_header_that_is_not_json_is_one_line(tmp_path, header_line):
    out = tmp_path / "s.json"
    checkpoint_path(out).write_text(header_line.replace('"config"', "config", 1) + "\n")
    _one_error(run_cli("sweep", "--resume", str(out)), 2, "line 1 (the header) is not valid JSON")


def _mount_tmpfs(where: Path, size: str) -> None:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("a full disk is simulated with a small tmpfs, which needs root and mount")
    where.mkdir()
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True, text=True
    )
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()})")


def _fill_once_it_exists(path: Path, ballast: Path, stop: threading.Event) -> None:
    """Once ``path`` (the checkpoint) exists, fill the rest of its file system with ``ballast``: the disk
    fills up while the sweep runs, after its free-space check before training has passed."""
    while not stop.is_set() and not path.exists():
        time.sleep(0.005)
    if stop.is_set():
        return
    with open(ballast, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()
        except OSError:  # ENOSPC: the disk is full now
            pass


@pytest.mark.slow
def test_full_disk_keeps_every_complete_line_and_resumes(tmp_path, reference):
    disk = tmp_path / "disk"
    # room enough for the free-space check before training (the checkpoint and the artifact, about 0.2 MiB);
    # the disk is filled once the checkpoint exists, so a later run line finds no space
    _mount_tmpfs(disk, "1m")
    try:
        out = disk / "s.json"
        ballast = disk / "ballast"
        stop = threading.Event()
        filler = threading.Thread(target=_fill_once_it_exists, args=(checkpoint_path(out), ballast, stop))
        filler.start()
        grid = [*GRID[:-4], "--seeds", "0-3", "--windows", "0"]
        try:
            res = run_cli("sweep", *grid, "--out", str(out))
        finally:
            stop.set()
            filler.join()
        _one_error(
            res,
            1,
            f"cannot append to checkpoint {checkpoint_path(out)}",
            "No space left on device",
            f"paritybench sweep --resume {out}",
        )
        # the failed line was cut back: the file holds only whole lines, and no artifact or temp file
        text = checkpoint_path(out).read_text()
        assert text.endswith("\n")
        kept = [json.loads(ln) for ln in text.splitlines()[1:]]
        assert len(kept) < 8
        assert sorted(os.listdir(disk)) == sorted([checkpoint_path(out).name, ballast.name])
        ballast.unlink()
        res = run_cli("sweep", "--resume", str(out))
        assert res.returncode == 0, res.stderr[-3000:]
        assert f"{len(kept)} runs already finished" in res.stdout
        assert "removed a last line" not in res.stdout and "dropped" not in res.stdout
        resumed = json.loads(out.read_text())
        assert len(resumed["runs"]) == 8 and all(r["status"] == "ok" for r in resumed["runs"])
        assert _content({"runs": [r for r in resumed["runs"] if r["seed"] < 2]}) == _content(reference)
        assert sorted(os.listdir(disk)) == ["s.json"]
    finally:
        subprocess.run(["umount", str(disk)], check=False)


# ---------------------------------------------------------------------------------------------
# cause 6: nothing is created before every input is checked


@pytest.mark.parametrize(
    "change, fragment",
    [
        (["--windows", "9950"], "window 9950:10050 runs past the end"),
        (["--seeds", "9223372036854775808"], "is too large"),
        (["--data", "/nonexistent/mnist.npz"], "does not exist"),
        (["--data-sha256", "0" * 64, "--data", str(bundled_path())], "expected " + "0" * 64),
    ],
)
def test_bad_input_leaves_nothing_behind(tmp_path, change, fragment):
    out = tmp_path / "sub" / "s.json"
    res = run_cli("sweep", *GRID, *change, "--out", str(out))
    _one_error(res, 2, fragment)
    assert not (tmp_path / "sub").exists() and os.listdir(tmp_path) == []


@pytest.mark.slow
def test_corrected_retry_after_a_bad_window_works(tmp_path, reference):
    out = tmp_path / "s.json"
    _one_error(run_cli("sweep", *GRID[:-2], "--windows", "0,9950", "--out", str(out)), 2, "window 9950")
    assert os.listdir(tmp_path) == []
    res = run_cli("sweep", *GRID, "--out", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert _content(json.loads(out.read_text())) == _content(reference)


def test_out_under_a_regular_file_leaves_nothing(tmp_path):
    (tmp_path / "file").write_text("x")
    _one_error(run_cli("sweep", *GRID, "--out", str(tmp_path / "file" / "s.json")), 2, "not a folder")
    assert os.listdir(tmp_path) == ["file"]


# ---------------------------------------------------------------------------------------------
# cause 7: the same data, and no conflicting options, on resume


@pytest.mark.slow
def test_resume_refuses_replaced_data_naming_both_hashes(tmp_path):
    data = tmp_path / "mnist.npz"
    shutil.copy(bundled_path(), data)
    out = tmp_path / "s.json"
    header = json.loads(_header_only_checkpoint(out, "--data", str(data)))["header"]
    with np.load(data) as z:
        arrays = dict(z)
    arrays["x_train"][0, 0, 0] ^= 1  # one pixel: a different dataset of the same shape
    np.savez(data, **arrays)
    before = checkpoint_path(out).read_text()
    res = run_cli("sweep", "--resume", str(out))
    line = _one_error(res, 2, f"data file {data}", header["data"]["sha256"], "restore that file")
    assert line.count(" sha256 ") == 2 and not out.exists()
    assert checkpoint_path(out).read_text() == before


@pytest.mark.parametrize(
    "option",
    [
        ["--steps", "3"],
        ["--lr", "0.1"],
        ["--arms", "jax-logits"],
        ["--seeds", "0-2"],
        ["--windows", "1000"],
        ["--n", "200"],
        ["--normalize"],
        ["--data", str(ROOT / "tests" / "data")],
        ["--diagnostics", "full"],
        ["--threads", "1"],
        ["--onednn", "off"],
        ["--no-deterministic"],
        ["--threefry-partitionable"],
        ["--step-timeout", "5"],
    ],
)
def test_resume_refuses_a_conflicting_option(tmp_path, header_line, option):
    out = tmp_path / "s.json"
    checkpoint_path(out).write_text(header_line + "\n")
    res = run_cli("sweep", "--resume", str(out), *option)
    line = _one_error(res, 2, f"--resume {out}: {option[0]}", "(the sweep has", "drop those options")
    assert "--steps 2" not in line  # only what conflicts is named
    assert checkpoint_path(out).read_text() == header_line + "\n"
    assert sorted(os.listdir(tmp_path)) == [checkpoint_path(out).name]


def test_resume_with_another_step_timeout_is_refused_naming_both_limits(tmp_path, header_line):
    """The resumed runs would be held to another limit than the runs already in the checkpoint, which the
    artifact's one ``config.step_timeout`` could not say: refused like every other differing option."""
    assert json.loads(header_line)["header"]["config"]["step_timeout"] == 300.0
    out = tmp_path / "s.json"
    checkpoint_path(out).write_text(header_line + "\n")
    res = run_cli("sweep", "--resume", str(out), "--step-timeout", "7.5")
    _one_error(res, 2, f"--resume {out}: --step-timeout 7.5 (the sweep has 300.0)", "drop those options")
    assert sorted(os.listdir(tmp_path)) == [checkpoint_path(out).name]


@pytest.mark.slow
def test_resume_accepts_options_equal_to_the_header(tmp_path, header_line, reference):
    out = tmp_path / "s.json"
    checkpoint_path(out).write_text(header_line + "\n")
    # the same values, written differently (a list for a range, the default diagnostics spelled out)
    res = run_cli(
        "sweep",
        "--resume",
        str(out),
        "--seeds",
        "0,1",
        "--windows",
        "0:1",
        "--steps",
        "2",
        "--lr",
        "0.01",
        "--n",
        "100",
        "--arms",
        "jax-logits,reference-f64",
        "--diagnostics",
        "light",
        "--onednn",
        "default",
        "--out",
        str(out),
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert _content(json.loads(out.read_text())) == _content(reference)


# ---------------------------------------------------------------------------------------------
# cause 8: a worker that dies


def _children_running(parent: int, needle: str) -> list[int]:
    """Pids of processes whose parent is ``parent`` and whose command line contains ``needle``."""
    found = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            ppid = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and needle in cmd:
            found.append(int(d.name))
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the worker through /proc (Linux)")
def test_killed_worker_is_reported_exits_1_and_is_retried_on_resume(tmp_path):
    out = tmp_path / "s.json"
    grid = ["--arms", "keras-jax,reference-f64", *GRID[2:]]
    proc = _start("sweep", *grid, "--out", str(out))
    deadline = time.time() + 300
    workers: list[int] = []
    while time.time() < deadline and proc.poll() is None and not workers:
        workers = _children_running(proc.pid, "paritybench.arms.keras_worker")
        time.sleep(0.05)
    assert workers, "no keras worker was seen"
    os.kill(workers[0], signal.SIGKILL)
    stdout, stderr = proc.communicate(timeout=300)
    res = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    _one_error(res, 1, "2 runs failed (keras-jax)", f"paritybench sweep --resume {out}")
    assert "paritybench: keras-jax: 2 of 2 runs failed: keras-jax worker killed by SIGKILL\n" in stderr
    # the errors are in the artifact, the checkpoint stays to retry them, the lock is gone
    first = json.loads(out.read_text())
    status = {(r["arm"], r["seed"]): r["status"] for r in first["runs"]}
    assert status == {
        ("keras-jax", 0): "error",
        ("keras-jax", 1): "error",
        ("reference-f64", 0): "ok",
        ("reference-f64", 1): "ok",
    }
    assert sorted(os.listdir(tmp_path)) == ["s.json", checkpoint_path(out).name]

    res = run_cli("sweep", "--resume", str(out))
    assert res.returncode == 0, res.stderr[-3000:]
    assert "2 runs already finished, 2 failed runs to retry" in res.stdout
    second = json.loads(out.read_text())
    assert all(r["status"] == "ok" for r in second["runs"]) and len(second["runs"]) == 4
    # the finished runs were not trained again: their timings are the first attempt's
    ref = [r for r in first["runs"] if r["arm"] == "reference-f64"]
    assert [r for r in second["runs"] if r["arm"] == "reference-f64"] == ref
    assert sorted(os.listdir(tmp_path)) == ["s.json"]


def test_resume_retries_error_runs_only():
    runs = [
        {"arm": a, "seed": 0, "window_start": 0, "status": s}
        for a, s in (("a", "ok"), ("b", "skipped"), ("c", "error"))
    ]
    sweep = Sweep(cfg=None, out=Path("x.json"), checkpoint=None, lock=None, done=runs)  # type: ignore[arg-type]
    assert sweep.skip == {("a", 0, 0, None), ("b", 0, 0, None)}


def test_load_keeps_the_last_record_of_a_retried_run(tmp_path, header_line, reference):
    p = tmp_path / "x.json.partial.jsonl"
    ok = reference["runs"][0]
    failed = {
        **ok,
        "status": "error",
        "reason": "keras-jax worker killed by SIGKILL",
        "final_accuracy": None,
        "final_weights_sha256": None,
        "initial_accuracy": None,
        "curves": {},
    }
    p.write_text("\n".join([header_line, json.dumps(failed), json.dumps(ok)]) + "\n")
    loaded = Checkpoint.load(p)
    assert isinstance(loaded, Loaded) and loaded.runs == [ok] and loaded.dropped == []


# ---------------------------------------------------------------------------------------------
# cause 9: one writer at a time


@pytest.mark.slow
def test_second_resume_is_refused_while_a_sweep_writes(tmp_path):
    out = tmp_path / "s.json"
    # long enough to be running while the second one starts
    proc = _start("sweep", *GRID[:-6], "--steps", "300", "--seeds", "0-9", "--windows", "0", "--out", str(out))
    try:
        deadline = time.time() + 300
        while time.time() < deadline and proc.poll() is None and not checkpoint_path(out).exists():
            time.sleep(0.05)
        before = checkpoint_path(out).read_text()
        res = run_cli("sweep", "--resume", str(out))
        assert proc.poll() is None, "the first sweep ended too soon for this test"
        _one_error(res, 2, f"another paritybench is writing {out} (pid {proc.pid})")
        assert checkpoint_path(out).read_text().startswith(before) and lock_path(out).exists()
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
    # the kernel released the killed sweep's lock: the next one takes it over (and removes the file)
    with SweepLock(out):
        assert lock_path(out).read_text().strip() == str(os.getpid())
    assert not lock_path(out).exists()


def test_lock_is_exclusive_in_one_process_too(tmp_path):
    out = tmp_path / "s.json"
    with SweepLock(out):
        from paritybench.errors import ParityError

        with pytest.raises(ParityError, match=f"another paritybench is writing {out} \\(pid {os.getpid()}\\)"):
            SweepLock(out).acquire()
    assert not lock_path(out).exists()
