"""``run --workload all``'s serving Keras workers (pipeline/worker_pool.py): one worker per backend serves
every workload, and what it trains is bit-identical to a worker of the workload's own."""

from __future__ import annotations

import os
import signal
import textwrap
import time

import pytest

from paritybench.experiment.config import RunConfig
from paritybench.pipeline import runner
from paritybench.pipeline.worker_pool import KerasPool

# A pipe left open to a dead worker is flushed again when garbage-collected: "Exception ignored ... BrokenPipeError"
# on stderr (seen in a fresh-clone CI run). Any such unraisable exception fails these tests.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

KERAS = ("keras-tensorflow", "keras-jax", "keras-torch")
# a single-batch SGD workload, an Adam one (optimizer state to reset) and a minibatch one with moving
# statistics (state variables to reset): each leaks differently if a worker kept the last workload's state
WORKLOADS = ("seed-bce", "adam-epsilon", "batchnorm-momentum")


def _cfg(workload: str, arms=KERAS) -> RunConfig:
    return RunConfig(workload=workload, arms=arms, steps=2, n=128, seeds=(0, 1), diagnostics="light")


def _hashes(out: runner.RunOutput) -> dict:
    return {(r["arm"], r["seed"]): (r["status"], r["final_weights_sha256"], r.get("reason")) for r in out.runs}


@pytest.mark.slow
def test_pooled_workers_train_every_workload_as_workers_of_its_own():
    """Pinned: each workload's Keras-arm final weights (and swap) through ONE worker per backend equal a
    per-workload run's, bit for bit, in both orders of serving (clear_session + re-seed between jobs),
    and the pool started exactly three processes for the three workloads."""
    alone = {w: runner.run(_cfg(w)) for w in WORKLOADS}
    with KerasPool() as pool:
        pooled = {w: runner.run(_cfg(w), pool=pool) for w in WORKLOADS}
        again = runner.run(_cfg(WORKLOADS[0]), pool=pool)  # served after the others: still the same
        assert pool.started == 3
        assert len(pool.workers) == 3 and all(wp.alive() for wp in pool.workers.values())
        tmp = pool.tmp
    assert not tmp.exists()  # the pool's folder is removed when it closes
    for w in WORKLOADS:
        expected = _hashes(alone[w])
        assert {k: v[0] for k, v in expected.items()} == {(a, s): "ok" for a in KERAS for s in (0, 1)}
        assert _hashes(pooled[w]) == expected, w
        assert [r["swap"] for r in pooled[w].runs] == [r["swap"] for r in alone[w].runs], w
        # every workload records its own worker's read-back; the pooled one says which job it was
        for p in KERAS:
            assert (
                pooled[w].environment["frameworks"][p]["numerics"] == alone[w].environment["frameworks"][p]["numerics"]
            )
            assert pooled[w].environment["frameworks"][p]["worker_job"] == WORKLOADS.index(w) + 1
            assert "worker_job" not in alone[w].environment["frameworks"][p]
    assert _hashes(again) == _hashes(alone[WORKLOADS[0]])


@pytest.mark.slow
def test_prestart_keeps_a_live_worker_and_replaces_a_dead_one():
    """``runner.run`` prestarts its workload's workers before its own start-up (their imports overlap it):
    a live worker is kept (``acquire`` then hands it the job: three processes above), a dead one replaced."""
    numerics = _cfg("seed-bce").numerics.to_dict()
    with KerasPool() as pool:
        pool.prestart("keras-jax", numerics)
        (first,) = pool.workers.values()
        pool.prestart("keras-jax", numerics)
        assert pool.started == 1 and list(pool.workers.values()) == [first]
        first.stop()
        pool.prestart("keras-jax", numerics)
        (second,) = pool.workers.values()
        assert pool.started == 2 and second is not first and second.alive()


@pytest.mark.slow
def test_a_worker_failing_in_one_workload_errors_it_and_the_next_gets_a_fresh_worker(tmp_path):
    """Pinned: a worker that fails during workload k makes k's Keras runs ``error`` with the worker's own
    reason; the next workload starts a new worker and trains as a run of its own would; a worker killed
    while idle between workloads is replaced too."""
    broken = tmp_path / "broken.py"
    broken.write_text(
        textwrap.dedent("""
        from dataclasses import replace
        from paritybench.workloads.seed_bce.workload import WORKLOAD as _W
        def no_such_builder(keras, **options):  # found when the workload loads, fails in the worker
            raise RuntimeError("no_such_builder: this builder always fails")
        WORKLOAD = replace(_W, name="broken-keras", model=replace(_W.model, keras_build=no_such_builder))
    """)
    )
    arms = ("keras-jax",)
    alone = runner.run(_cfg("seed-bce", arms))
    with KerasPool() as pool:
        first = runner.run(_cfg("seed-bce", arms), pool=pool)
        bad = runner.run(_cfg(str(broken), arms), pool=pool)
        assert {r["status"] for r in bad.runs} == {"error"}
        reason = bad.runs[0]["reason"]
        assert reason.startswith("keras-jax worker exited with status 3: ") and "no_such_builder" in reason, reason
        assert pool.workers == {}  # the failed worker is gone from the pool
        after = runner.run(_cfg("seed-bce", arms), pool=pool)
        assert pool.started == 2
        (wp,) = pool.workers.values()
        os.kill(wp.proc.pid, signal.SIGKILL)  # dies while idle
        deadline = time.monotonic() + 30
        while wp.proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        last = runner.run(_cfg("seed-bce", arms), pool=pool)
        assert pool.started == 3
    for out in (first, after, last):
        assert _hashes(out) == _hashes(alone)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/proc"), reason="finds the worker through /proc (Linux)")
@pytest.mark.parametrize("sig, rc, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGKILL, -9, None)])
def test_killed_run_all_leaves_no_worker_and_no_temp(tmp_path, sig, rc, name):
    """Pinned (issue 9 for the pool): SIGTERM or SIGKILL of ``run --workload all`` while its serving
    worker trains leaves no worker process and no paritybench temporary folder, and no index."""
    import subprocess
    import sys

    from .conftest import ROOT
    from .test_hostile_run import _alive, _cmdline, _wait_worker

    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "all"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "paritybench", "run", "--workload", "all", "--no-weights", "--out", str(out)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = _wait_worker(proc)
    assert "--serve" in _cmdline(worker)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == rc, err[-3000:]
    if name:
        assert err.strip().splitlines()[-1] == f"paritybench: interrupted by {name}; no artifact was written"
    deadline = time.monotonic() + 60
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), f"worker {worker} still running: {_cmdline(worker)}"
    deadline = time.monotonic() + 30  # after a SIGKILL the orphaned workers remove the pool's folder
    while [p for p in tmpdir.iterdir() if p.name.startswith("paritybench-")] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("paritybench-")] == []
    assert not (out / "index.json").exists()


@pytest.mark.slow
def test_api_runs_in_a_session_share_one_worker_and_train_as_their_own(tmp_path, api_session, api_run):
    """``api.session()`` (the suite's one, ``api_session``): two runs of the same Keras-JAX arm go to ONE serving
    worker, which the second run finds alive, and train the same final weights (the worker re-seeds between jobs);
    the pool starts no other process for them."""
    arms = "jax-logits,keras-jax,reference-f64"
    first = api_run("seed-bce", arms=arms, steps=2, n=128, out=tmp_path / "a.json")
    key = next(k for k in api_session.workers if k[0] == "keras-jax" and '"deterministic": true' in k[1])
    worker, started = api_session.workers[key], api_session.started
    second = api_run("seed-bce", arms=arms, steps=2, n=128, out=tmp_path / "b.json")
    assert api_session.workers[key] is worker and worker.alive() and api_session.started == started
    same = {r["arm"]: r["final_weights_sha256"] for r in first.record["runs"]}
    assert same == {r["arm"]: r["final_weights_sha256"] for r in second.record["runs"]}
    assert first.row("keras-jax").status == "ok"
