"""A Keras worker process and its one start-up (:func:`start`), used by every path that starts one: ``run``'s
workers and the pool (``paritybench.pipeline.worker_pool``) and the inspection workers of ``conventions`` and
``localize`` (``paritybench.arms.keras_inspect``). It sits in ``arms`` so that both can reach it while imports run
one way (pipeline -> arms).

Every Keras worker is started by :func:`start`: the numerics flags, ``KERAS_BACKEND`` and this paritybench's
source folder in its environment (so the flags are set before its framework loads), the parent's pid and
temporary folder (``procs.worker_env``: it dies with the parent and removes that folder), a process group of its
own, and its channel: two pipes it inherits (``pass_fds``) for the typed messages of ``paritybench.arms.protocol``.
Its stdin is empty; its stdout and stderr (a user's prints and logs, and its traceback) go to one log file, whose
last line names the problem when the worker dies without reporting ``Failed``.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

from paritybench import procs
from paritybench.arms import protocol
from paritybench.experiment import flags


class WorkerProcess:
    """A started Keras worker, its channel, and the thread that reads the worker's messages into a queue (so a
    worker is never blocked on a full pipe while the parent trains); ``None`` marks the end of its messages.

    ``failure``: the ``Failed`` message the worker sent, if any; ``protocol_error``: why a message it sent
    could not be read (the worker is then killed: a worker that speaks another protocol is not trusted)."""

    def __init__(self, proc: subprocess.Popen, reports_fd: int, commands_fd: int, log_path: Path):
        self.proc, self.log_path = proc, log_path
        self._reports = os.fdopen(reports_fd, "r", encoding="utf-8")
        self._commands = os.fdopen(commands_fd, "w", encoding="utf-8")
        self.lines: queue.Queue = queue.Queue()
        self.failure: protocol.Failed | None = None
        self.protocol_error: str | None = None
        self.ended = False  # the end of its messages was seen: the process is exiting
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        try:
            for line in self._reports:
                try:
                    msg = protocol.decode(line)
                except protocol.ProtocolError as exc:
                    self.protocol_error = str(exc)
                    self._kill()
                    break
                if isinstance(msg, protocol.Failed):
                    self.failure = msg
                else:
                    self.lines.put(msg)
        finally:
            self._reports.close()
            self.lines.put(None)

    def _kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def events(self, until: type) -> Iterator:
        """Messages up to and including the first of type ``until``; stops early at the end of its messages."""
        if self.ended:
            return
        while (msg := self.lines.get()) is not None:
            yield msg
            if isinstance(msg, until):
                return
        self.ended = True

    def send(self, msg, close: bool = False) -> bool:
        """Send one message (``None``: none) to the worker, then close its command pipe when ``close``; False
        when the worker is gone."""
        try:
            if msg is not None:
                self._commands.write(protocol.encode(msg) + "\n")
                self._commands.flush()
            if close:
                self._commands.close()
            return True
        except (BrokenPipeError, OSError, ValueError):
            self._drop_commands()
            return False

    def _drop_commands(self) -> None:
        """Close the pipe to a worker that is gone. The unwritten line stays in the pipe's buffer, and a pipe
        left open would try to flush it again when it is garbage-collected: a BrokenPipeError that Python
        prints as "Exception ignored ... Traceback" on stderr (a killed worker's run, test_hostile_sweep)."""
        try:
            self._commands.close()
        except (BrokenPipeError, OSError, ValueError):
            pass  # the flush inside close() failed; the file descriptor is closed all the same

    def alive(self) -> bool:
        return self.proc.poll() is None and not self.ended

    def wait(self) -> int:
        rc = self.proc.wait()
        self.reader.join()
        return rc

    def last_output(self) -> str:
        """The last non-empty line the worker wrote on its stdout or stderr ("" if none)."""
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return ""
        return lines[-1].strip() if lines else ""

    def why(self, rc: int, what: str) -> str:
        """One line saying why ``what`` (e.g. "keras-jax worker") ended without its result, exit status ``rc``."""
        if self.protocol_error:
            return f"{what} sent a message paritybench cannot read: {self.protocol_error}"
        if self.failure is not None:
            return f"{what} exited with status {rc}: {self.failure.error}: {self.failure.message}"
        if rc < 0:  # killed by a signal: its output's last line says nothing about why
            try:
                return f"{what} killed by {signal.Signals(-rc).name}"
            except ValueError:  # a signal with no name (real-time signals)
                return f"{what} killed by signal {-rc}"
        last = self.last_output()
        if rc == 0:
            return f"{what} exited with status 0 before sending its result" + (
                f" (its last output: {last})" if last else ""
            )
        return f"{what} exited with status {rc}: {last}"

    def stop(self) -> None:
        """Stop the worker with its whole process group and reap it."""
        if self.proc.poll() is None:
            procs.stop_worker(self.proc)
            self.proc.wait()
        self._drop_commands()


def start(
    module: str, backend: str, numerics: dict, tmp_root: Path, log_path: Path, serve: bool = False
) -> WorkerProcess:
    """Start ``python -m paritybench.arms.MODULE [--serve] BACKEND NUMERICS``, the one way a Keras worker starts.

    ``numerics``: ``NumericsOptions.to_dict()``; ``tmp_root``: the temporary folder the worker removes should
    this process die (``procs.worker_env``); ``log_path``: where its stdout and stderr go."""
    env = flags.env_for(flags.NumericsOptions(**numerics))
    env["KERAS_BACKEND"] = backend
    # The worker must import this same paritybench, installed or not.
    src = str(Path(__file__).resolve().parents[2])  # the folder holding this paritybench package
    env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    env.update(procs.worker_env(tmp_root))  # the worker dies with us and removes tmp_root
    commands_r, commands_w = os.pipe()
    reports_r, reports_w = os.pipe()
    env[protocol.CHANNEL_ENV] = f"{commands_r},{reports_w}"
    try:
        with open(log_path, "w") as log:
            proc = subprocess.Popen(
                [sys.executable, "-m", f"paritybench.arms.{module}", *protocol.worker_argv(backend, numerics, serve)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                pass_fds=(commands_r, reports_w),
                **procs.worker_popen_kwargs(),
            )
    except BaseException:
        for fd in (commands_r, commands_w, reports_r, reports_w):
            os.close(fd)
        raise
    # the worker's ends are its own now: with them closed here, its exit is the end of its messages
    os.close(commands_r)
    os.close(reports_w)
    return WorkerProcess(proc, reports_r, commands_w, log_path)
