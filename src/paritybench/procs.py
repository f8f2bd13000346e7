"""A killed paritybench leaves no process and no temporary folder behind.

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
import threading
import time
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
    if _importing(frame):
        # An exception raised while a module is being imported can leave a C extension half initialised, and
        # some abort the process on it: a SIGTERM to `run` while its main process imported JAX (jaxlib's MLIR
        # _site_initialize) ended it with SIGABRT, exit -6, in make test. Postponed instead: the redelivery
        # thread below sends it again in a few milliseconds, until the import is done (or ends the process
        # itself, 128+signal, after REDELIVER_FOR_S).
        _dropped.append(signum)
        _dropped_event.set()
        return
    raise Interrupted(signum)


def _importing(frame) -> bool:
    """Whether ``frame`` (the main thread's, where a signal landed) runs inside an import."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib._bootstrap"):
            return True
        frame = frame.f_back
    return False


# Python runs a signal handler between bytecodes of whatever Python code the main thread runs
# next, and that may be code whose exceptions Python swallows: a garbage-collection callback
# (JAX appends ``_xla_gc_callback`` to ``gc.callbacks``, jax/_src/lib/__init__.py), a ``__del__``,
# a weakref callback. There the ``Interrupted`` the handler raises is printed as "Exception
# ignored in: <function _xla_gc_callback ...>" and dropped, and the signal with it (SIGTERM at 40 s
# to ``localize --steps 1000000000``, which then built a list of 10**9 slices: lost 1 time in 2
# here, 3 in 3 in the audit; a loop of full collections with JAX loaded: 5 in 5). CPython hands every such exception to
# ``sys.unraisablehook`` (Python/errors.c, PyErr_FormatUnraisable), so the hook below sees the
# dropped ``Interrupted`` and has a helper thread (started beforehand: starting a thread inside
# the hook waits, and the signal would land in the hook) send the signal again a moment later,
# when the main thread is usually back in ordinary code, where the handler's exception unwinds.
# A main thread that lives in such code (back-to-back full collections) would drop it every
# time: REDELIVER_FOR_S after the first drop the helper ends the process itself, 128+signal,
# after removing this process's temporary folders (its workers die with it: die_with_parent).
REDELIVER_AFTER_S = 0.005
REDELIVER_FOR_S = 2.0
_previous_unraisablehook = None
_dropped: list[int] = []
_dropped_event = threading.Event()


def _redeliver() -> None:
    first = None
    while True:
        _dropped_event.wait()
        _dropped_event.clear()
        signum = _dropped[-1]
        now = time.monotonic()
        first = now if first is None else first
        if now - first > REDELIVER_FOR_S:
            for p in Path(tempfile.gettempdir()).glob(tmp_prefix() + "*"):
                shutil.rmtree(p, ignore_errors=True)
            print(
                f"paritybench: interrupted by {signal.Signals(signum).name}; no artifact was written",
                file=sys.stderr,
                flush=True,
            )
            os._exit(128 + signum)
        time.sleep(REDELIVER_AFTER_S)
        os.kill(os.getpid(), signum)


def _unraisable(unraisable) -> None:
    exc = unraisable.exc_value
    if isinstance(exc, Interrupted):
        _dropped.append(exc.signum)
        _dropped_event.set()
        return  # not printed: the interruption is not lost, only postponed by a few milliseconds
    (_previous_unraisablehook or sys.__unraisablehook__)(unraisable)


def install_signal_handlers() -> None:
    """SIGTERM and SIGINT become ``Interrupted`` (main thread only; a no-op elsewhere), and an
    ``Interrupted`` that Python swallows is delivered again (``_unraisable``)."""
    global _previous_unraisablehook
    try:
        signal.signal(signal.SIGTERM, _raise)
        signal.signal(signal.SIGINT, _raise)
    except ValueError:  # not the main thread (an embedding program): leave its handlers alone
        return
    if sys.unraisablehook is not _unraisable:
        _previous_unraisablehook = sys.unraisablehook
        sys.unraisablehook = _unraisable
        threading.Thread(target=_redeliver, name="paritybench-signal-redelivery", daemon=True).start()


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
    removed: list[Path] = []
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
    """What a worker needs to know to die with its parent and clean up after it, and its own TMPDIR
    inside ``tmp_root``: what a framework writes there (TensorFlow's autograph writes
    ``__autograph_generated_file*.py`` into ``tempfile.gettempdir()``, and a killed worker never
    removes them) goes when ``tmp_root`` goes, whichever way the run ends."""
    private = Path(tmp_root) / "tmp"
    private.mkdir(exist_ok=True)
    return {PARENT_ENV: str(os.getpid()), TMP_ROOT_ENV: str(tmp_root), "TMPDIR": str(private)}


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
