"""Keras worker processes: one per run, or one per backend serving many workloads (``run --workload all``).

A Keras worker spends most of its life importing its backend (27-30 s of a catalogue workload's
worker on a 2-core machine, against seconds of training), so ``run --workload all`` keeps ONE
worker per (backend, numerics) and hands it every workload in turn: the worker is started with
``keras_worker --serve BACKEND NUMERICS``, reads ``{"job": PATH}`` lines on stdin, and after each
job's ``result.json`` reports a ``done`` event and waits for the next line (see
``paritybench.arms.keras_worker.main``). Between jobs it clears the Keras session and re-seeds, so
a workload's Keras arms train exactly as in a worker of their own (tests/test_worker_pool.py).

Isolation: a worker that dies or fails during workload k makes workload k's unfinished Keras runs
``error`` (the runner's ``_KerasWorker._fail``) and is dropped from the pool; the next workload that
needs that backend starts a fresh one. Signals: the pool's workers run in process groups of their own
with ``procs.worker_env`` pointing at the pool's temporary folder, so SIGTERM/SIGINT (``Interrupted``
in the parent) stops every one of them on the way out and removes the folder, as for a single run.
"""

from __future__ import annotations

import json
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from paritybench import procs


class WorkerProcess:
    """A started Keras worker and the thread that drains its stdout into a queue of ``PB-EVENT`` objects
    (so a worker is never blocked on a full pipe while the parent trains); ``None`` marks end of output."""

    def __init__(self, proc: subprocess.Popen, stderr_path: Path):
        self.proc, self.stderr_path = proc, stderr_path
        self.lines: queue.Queue = queue.Queue()
        self.ended = False  # the reader saw end of output: the process is exiting
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("PB-EVENT "):
                self.lines.put(json.loads(line[len("PB-EVENT ") :]))
        self.lines.put(None)

    def events(self, until: str) -> Iterator[dict]:
        """Events up to and including the first of kind ``until``; stops early at end of output."""
        if self.ended:
            return
        while (ev := self.lines.get()) is not None:
            yield ev
            if ev.get("kind") == until:
                return
        self.ended = True

    def send(self, line: str, close: bool = False) -> bool:
        """Write one line on the worker's stdin (and close it); False when the worker is gone."""
        try:
            assert self.proc.stdin is not None
            self.proc.stdin.write(line + "\n")
            self.proc.stdin.flush()
            if close:
                self.proc.stdin.close()
            return True
        except (BrokenPipeError, OSError, ValueError):
            self._drop_stdin()
            return False

    def _drop_stdin(self) -> None:
        """Close the pipe to a worker that is gone. The unwritten line stays in the pipe's buffer, and a pipe
        left open would try to flush it again when it is garbage-collected: a BrokenPipeError that Python
        prints as "Exception ignored ... Traceback" on stderr (a killed worker's run, test_hostile_sweep)."""
        stdin = self.proc.stdin
        if stdin is None:
            return
        try:
            stdin.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the flush inside close() failed; the file descriptor is closed all the same

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.ended

    def wait(self) -> int:
        rc = self.proc.wait()
        self.reader.join()
        return rc

    def stop(self) -> None:
        """Stop the worker with its whole process group (issue 9) and reap it."""
        if self.proc.poll() is None:
            procs.stop_worker(self.proc)
            self.proc.wait()


def start(argv: list[str], env: dict[str, str], stderr_path: Path) -> WorkerProcess:
    """Start ``python -m paritybench.arms.keras_worker ARGV`` in a process group of its own."""
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "paritybench.arms.keras_worker", *argv],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
            text=True,
            env=env,
            **procs.worker_popen_kwargs(),
        )
    return WorkerProcess(proc, stderr_path)


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

    def acquire(self, process: str, numerics: dict, env: dict[str, str], job_file: Path) -> WorkerProcess:
        """Hand ``job_file`` to the pool's live worker for (process, numerics), starting one if there is
        none or the last one died; the job line is sent before returning."""
        key = (process, json.dumps(numerics, sort_keys=True))
        wp = self.workers.get(key)
        line = json.dumps({"job": str(job_file)})
        if wp is not None and wp.alive() and wp.send(line):
            return wp
        if wp is not None:
            self.discard(wp)
        self.started += 1
        backend = process.removeprefix("keras-")
        env = {**env, **procs.worker_env(self.tmp)}  # issue 9: dies with us, removes the pool's folder
        wp = start(["--serve", backend, json.dumps(numerics)], env, self.tmp / f"{process}-{self.started}.stderr")
        self.workers[key] = wp
        wp.send(line)  # a worker that died at once reports it through its events and status
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
                if graceful and wp.send("", close=True):
                    try:
                        wp.proc.wait(timeout=10)
                    except subprocess.TimeoutExpired:
                        pass
                wp.stop()
            self.workers.clear()
        finally:
            self._tmp.cleanup()


__all__ = ["KerasPool", "WorkerProcess", "start"]
