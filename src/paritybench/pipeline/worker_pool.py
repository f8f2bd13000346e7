"""Keras worker processes, one per backend serving many workloads (started by ``arms.worker_process.start``).

Every Keras worker, whether it trains for a run, serves ``run --workload all`` or inspects an arm for
``conventions`` and ``localize``, is started by ``arms.worker_process.start``: the numerics flags,
``KERAS_BACKEND`` and this paritybench's source folder in its environment (so the flags are set before its
framework loads), the parent's pid and temporary folder (``procs.worker_env``: it dies with the parent and
removes that folder), a process group of its own, and its channel: two pipes it inherits (``pass_fds``) for
the typed messages of ``paritybench.arms.protocol``. Its stdin is empty; its stdout and stderr (a user's
prints and logs, and its traceback) go to one log file, whose last line names the problem when the
worker dies without reporting ``Failed``.

A Keras worker spends most of its life importing its backend (27-30 s of a catalogue workload's
worker on a 2-core machine, against seconds of training), so ``run --workload all`` keeps ONE
worker per (backend, numerics) and hands it every workload in turn: the worker is started with
``--serve``, takes ``TrainJob`` messages one after another and after each job's ``JobDone`` waits for
the next (see ``paritybench.arms.keras_worker.serve``). Between jobs it clears the Keras session and
re-seeds, so a workload's Keras arms train exactly as in a worker of their own (tests/test_worker_pool.py).

Isolation: a worker that dies or fails during workload k makes workload k's unfinished Keras runs
``error`` (the runner's ``_KerasWorker._fail``) and is dropped from the pool; the next workload that
needs that backend starts a fresh one. Signals: the pool's workers run in process groups of their own
with ``procs.worker_env`` pointing at the pool's temporary folder, so SIGTERM/SIGINT (``Interrupted``
in the parent) stops every one of them on the way out and removes the folder, as for a single run.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from pathlib import Path

from paritybench import procs
from paritybench.arms import protocol
from paritybench.arms.worker_process import WorkerProcess, start


class KerasPool:
    """One serving worker per (Keras process, numerics), started lazily, for a sequence of ``runner.run``
    calls; a context manager that stops every worker and removes its temporary folder on the way out."""

    def __init__(self):
        procs.clean_stale_tmp()
        self._tmp = tempfile.TemporaryDirectory(prefix=procs.tmp_prefix() + "pool-")
        self.tmp = Path(self._tmp.name)
        self.workers: dict[tuple[str, str], WorkerProcess] = {}
        self.started = 0  # worker processes started over the pool's life
        self._jobs = 0

    def __enter__(self) -> KerasPool:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(graceful=exc_type is None)

    def job_dir(self, process: str) -> Path:
        """A fresh folder for one workload's job on ``process``, inside the pool's temporary folder."""
        self._jobs += 1
        d = self.tmp / f"{process}-job{self._jobs}"
        d.mkdir()
        return d

    def prestart(self, process: str, numerics: dict) -> None:
        """Start the worker for (process, numerics) now, with no job, unless a live one is there: it imports its
        backend while the caller starts up its workload (as ``runner._spawn_keras`` does for a single run);
        ``acquire`` hands it the job."""
        wp = self.workers.get((process, json.dumps(numerics, sort_keys=True)))
        if wp is None or not wp.alive():
            self._start(process, numerics)

    def acquire(self, process: str, numerics: dict, job: protocol.TrainJob) -> WorkerProcess:
        """Hand ``job`` to the pool's live worker for (process, numerics), starting one if there is none or
        the last one died; the job is sent before returning."""
        wp = self.workers.get((process, json.dumps(numerics, sort_keys=True)))
        if wp is not None and wp.alive() and wp.send(job):
            return wp
        wp = self._start(process, numerics)
        wp.send(job)  # a worker that died at once reports it through its messages and status
        return wp

    def _start(self, process: str, numerics: dict) -> WorkerProcess:
        """A fresh worker for (process, numerics) in place of the one there (stopped and dropped, if any)."""
        key = (process, json.dumps(numerics, sort_keys=True))
        if (old := self.workers.get(key)) is not None:
            self.discard(old)
        self.started += 1
        backend = process.removeprefix("keras-")
        # the worker dies with us and removes the pool's folder
        wp = start("keras_worker", backend, numerics, self.tmp, self.tmp / f"{process}-{self.started}.log", serve=True)
        self.workers[key] = wp
        return wp

    def discard(self, wp: WorkerProcess) -> None:
        """Stop ``wp`` and forget it: the next job for its backend gets a fresh worker."""
        wp.stop()
        for k, v in list(self.workers.items()):
            if v is wp:
                del self.workers[k]

    def release_job(self, job_dir: Path) -> None:
        shutil.rmtree(job_dir, ignore_errors=True)

    def close(self, graceful: bool = True) -> None:
        """End every worker (end of stdin when ``graceful``, then its group is killed), remove the folder."""
        try:
            for wp in list(self.workers.values()):
                if graceful and wp.send(protocol.Stop(), close=True):
                    try:
                        wp.proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
                wp.stop()
            self.workers.clear()
        finally:
            self._tmp.cleanup()


__all__ = ["KerasPool"]
