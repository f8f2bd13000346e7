"""A killed paritybench leaves no process and no temporary folder behind (issue 9, cause 12).

Three pieces, each used from one marked hook:

- ``install_signal_handlers`` (cli.main): SIGTERM and SIGINT raise ``Interrupted`` in the
  main thread, so every ``finally`` and context manager on the way out runs (the worker is
  killed, temporary folders are removed); the CLI prints one line and exits 128+signal.
- ``worker_popen_kwargs`` / ``worker_env`` / ``stop_worker`` (runner._run_keras): a Keras
  worker runs in a process group of its own (a Ctrl-C in the terminal reaches the parent,
  which stops the whole group), knows its parent's pid, and is stopped with its group.
- ``die_with_parent`` (keras_worker, repeat children): on Linux, ``prctl(PR_SET_PDEATHSIG,
  SIGTERM)`` makes the kernel signal the worker when its parent dies, even by SIGKILL; the
  worker then removes the parent's temporary folder (``tmp_root``) and exits. Should the
  parent already be gone when the worker starts (the race ``getppid`` closes), it exits.
  ``clean_stale_tmp`` removes folders left by a dead paritybench as a last resort (each
  folder's name carries its owner's pid).
"""

from __future__ import annotations

import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

PARENT_ENV = "PARITYBENCH_PARENT_PID"
TMP_ROOT_ENV = "PARITYBENCH_TMP_ROOT"
TMP_PREFIX = "paritybench-"
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGINT, raised in the main thread. A KeyboardInterrupt, so code that already
    stops cleanly on Ctrl-C (a sweep keeps its checkpoint) does the same on SIGTERM."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def _raise(signum, frame) -> None:
    raise Interrupted(signum)


def install_signal_handlers() -> None:
    """SIGTERM and SIGINT become ``Interrupted`` (main thread only; a no-op elsewhere)."""
    try:
        signal.signal(signal.SIGTERM, _raise)
        signal.signal(signal.SIGINT, _raise)
    except ValueError:  # not the main thread (an embedding program): leave its handlers alone
        pass


def interrupted_message(exc: KeyboardInterrupt) -> tuple[str, int]:
    """The one line the CLI prints for an interruption, and the exit status."""
    if isinstance(exc, Interrupted):
        return f"paritybench: interrupted by {signal.Signals(exc.signum).name}; no artifact was written", exc.exit_code
    return "paritybench: interrupted by SIGINT; no artifact was written", 130


def tmp_prefix() -> str:
    """Prefix of this process's temporary folders: ``paritybench-<pid>-``, so a later run can
    tell a dead process's leftovers from a live one's."""
    return f"{TMP_PREFIX}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_stale_tmp(tmpdir: str | None = None) -> list[Path]:
    """Remove ``paritybench-<pid>-*`` folders in the temp dir whose process is gone; return them."""
    base = Path(tmpdir or tempfile.gettempdir())
    removed = []
    try:
        entries = list(base.iterdir())
    except OSError:
        return removed
    for p in entries:
        m = re.fullmatch(re.escape(TMP_PREFIX) + r"(?:repeat-)?(\d+)-.*", p.name)
        if not m or not p.is_dir() or p.is_symlink():
            continue
        try:
            if p.stat().st_uid != os.getuid() or _alive(int(m.group(1))):
                continue
        except OSError:
            continue
        shutil.rmtree(p, ignore_errors=True)
        removed.append(p)
    return removed


def worker_env(tmp_root: Path) -> dict[str, str]:
    """What a worker needs to know to die with its parent and clean up after it."""
    return {PARENT_ENV: str(os.getpid()), TMP_ROOT_ENV: str(tmp_root)}


def worker_popen_kwargs() -> dict:
    """``Popen`` options for a worker: its own process group, so it can be stopped as a whole
    and a terminal's Ctrl-C reaches only the parent (which then stops it)."""
    return {"start_new_session": True}


def stop_worker(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """Kill a worker started with ``worker_popen_kwargs`` and everything in its group; reap it."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            proc.kill()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        pass


def orphan_cleanup() -> None:
    """Remove the parent's temporary folder if the parent is gone (nobody else will)."""
    parent, tmp_root = os.environ.get(PARENT_ENV), os.environ.get(TMP_ROOT_ENV)
    if parent and tmp_root and os.getppid() != int(parent):
        shutil.rmtree(tmp_root, ignore_errors=True)


def die_with_parent(unwind: bool = False) -> None:
    """In a child, at start: be signalled (SIGTERM) when the parent dies. Linux only.

    ``unwind=False`` (a Keras worker, which owns nothing to clean): on SIGTERM remove the
    parent's temporary folder if the parent is gone, and exit at once. ``unwind=True`` (a
    repeat, which runs workers of its own): SIGTERM raises ``Interrupted`` so its own
    clean-up runs; the caller then calls ``orphan_cleanup``.
    """
    parent = os.environ.get(PARENT_ENV)

    def _on_term(signum, frame) -> None:
        orphan_cleanup()
        os._exit(128 + signum)

    if unwind:
        install_signal_handlers()
    else:
        signal.signal(signal.SIGTERM, _on_term)
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    # The parent may have died before prctl took effect: then no signal will ever come.
    if parent and os.getppid() != int(parent):
        if unwind:
            raise Interrupted(signal.SIGTERM)
        _on_term(signal.SIGTERM, None)


__all__ = [
    "Interrupted",
    "install_signal_handlers",
    "interrupted_message",
    "tmp_prefix",
    "clean_stale_tmp",
    "worker_env",
    "worker_popen_kwargs",
    "stop_worker",
    "die_with_parent",
    "orphan_cleanup",
]
