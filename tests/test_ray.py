"""``paritybench sweep --engine ray``: a local Ray (loopback only, two workers), a worker killed
mid-way, resumed, and runs bit-identical to the local sweep.

Needs the ``ray`` extra. Skipped with a reason without it, unless
PARITYBENCH_REQUIRE_RAY=1 (CI installs the extra and sets it): then it fails.
"""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT, run_cli
from .test_shard import TINY, content, tiny_sweep


def require_ray() -> None:
    if importlib.util.find_spec("ray") is not None:
        return
    why = 'ray is not installed: make setup EXTRAS="--extra cpu --extra ray"'
    if os.environ.get("PARITYBENCH_REQUIRE_RAY") == "1":
        pytest.fail(f"PARITYBENCH_REQUIRE_RAY=1 but {why}")
    pytest.skip(why)


def _cmdline(pid: int) -> bytes:
    """A process's command line; b"" once it has exited (it can between listing /proc and reading it)."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _pids_named(prefix: str) -> list[int]:
    """Processes whose command line starts with ``prefix`` (Ray titles a busy worker ``ray::<task>``)."""
    out = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if cmd.startswith(prefix):
                out.append(int(d.name))
    return out


def _listening_addresses(pids: list[int]) -> set[str]:
    """Local addresses of the TCP sockets these processes listen on (from /proc/net/tcp{,6})."""
    inodes = set()
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            f = line.split()
            if f[3] == "0A" and f[9] in inodes:  # 0A: LISTEN
                hexaddr = f[1].split(":")[0]
                raw = bytes.fromhex(hexaddr)
                if len(raw) == 4:
                    found.add(".".join(str(b) for b in raw[::-1]))
                else:  # IPv6, four little-endian words
                    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
                    found.add(words.hex())
    return found


LOOPBACK = {"127.0.0.1", "00000000000000000000ffff7f000001", "00000000000000000000000000000001"}


def test_ray_sweep_killed_worker_resumes_bit_identical(tmp_path, tmp_path_factory):
    require_ray()
    local = tiny_sweep(tmp_path_factory)  # the local sweep, trained once for this test and tests/test_shard.py

    out = tmp_path / "ray.json"
    ckpt = tmp_path / "ray.json.partial.jsonl"
    # Each task pauses after each run it hands back: time to kill one while both have runs left. The 12 runs go
    # to 2 tasks, so a task that has handed back its first run has 5 left, 5 pauses (10 s) in which this loop
    # (0.3 s polls) kills it; the surviving task still sleeps through its pauses before the sweep can end, which
    # is why the pause is 2 s, not the 4 s it was (up to 10 s less of a core left idle).
    env = {**os.environ, "PARITYBENCH_RAY_RUN_DELAY": "2"}
    before = set(_pids_named("ray::"))
    proc = subprocess.Popen(
        [sys.executable, "-m", "paritybench", *TINY, "--engine", "ray", "--ray-tasks", "2", "--out", str(out)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 400
        while time.time() < deadline and proc.poll() is None:
            if ckpt.exists() and len(ckpt.read_text().splitlines()) >= 1 + 2:
                break
            time.sleep(0.3)
        assert proc.poll() is None, "the Ray sweep ended before a worker could be killed: " + proc.stderr.read()
        workers = [p for p in _pids_named("ray::_task") if p not in before]
        assert workers, "no Ray task worker process found"
        # every Ray service of this cluster listens on loopback only
        services = [
            p
            for p in _pids_named("")
            if p not in before and any(n in _cmdline(p) for n in (b"gcs_server", b"raylet", b"ray::"))
        ]
        addrs = _listening_addresses(services)
        assert addrs and addrs <= LOOPBACK, addrs
        os.kill(workers[0], signal.SIGKILL)
        _, err = proc.communicate(timeout=400)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 1, err[-2000:]
    assert "--resume" in err and not out.exists()
    finished = len(ckpt.read_text().splitlines()) - 1
    assert 2 <= finished < 12

    res = run_cli("sweep", "--resume", str(out), "--engine", "ray")
    assert res.returncode == 0, res.stderr[-2000:]
    assert f"{finished} runs already finished" in res.stdout
    ray_art, local_art = json.loads(out.read_text()), json.loads(local.read_text())
    assert not ckpt.exists() and ray_art["resumed"] is True
    assert [r["final_weights_sha256"] for r in ray_art["runs"]] == [
        r["final_weights_sha256"] for r in local_art["runs"]
    ]
    assert content(ray_art) == content(local_art)
    assert ray_art["summary"] == local_art["summary"]
    assert all(r["node"] in ray_art["nodes"] for r in ray_art["runs"])
    assert run_cli("validate", str(out)).returncode == 0


def test_ray_options_without_ray_engine_are_refused(tmp_path):
    res = run_cli(*TINY, "--address", "127.0.0.1:6379", "--out", str(tmp_path / "x.json"))
    assert res.returncode == 2 and "--engine ray" in res.stderr
    assert not (tmp_path / "x.json.partial.jsonl").exists()


def test_missing_ray_fails_when_required_and_skips_otherwise(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    monkeypatch.setenv("PARITYBENCH_REQUIRE_RAY", "1")
    with pytest.raises(pytest.fail.Exception, match="PARITYBENCH_REQUIRE_RAY=1"):
        require_ray()
    monkeypatch.delenv("PARITYBENCH_REQUIRE_RAY")
    with pytest.raises(pytest.skip.Exception, match="extra ray"):
        require_ray()
