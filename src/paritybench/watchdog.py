"""A time limit on a user's code: a workload module's import, a forward pass, an arm's training.

A workload's functions are the user's code, and one that never returns (a ``time.sleep`` in
``jax_apply``, a loop at module level) would hang a run until it is killed. ``limit(seconds, what)``
arms ``SIGALRM`` (``signal.setitimer``) for the block it guards; when it fires, the handler raises
``TimeLimit`` in the main thread, which interrupts Python code and blocking calls such as
``time.sleep`` (PEP 475: a handler that raises ends the sleep), and again every second until the
block is left (one raised inside a callback whose exceptions Python ignores is not the last). The
runner records it as the arm's ``error`` with the reason; a workload module that does not finish
importing is a one-line error.

The limit is per training step (``--step-timeout``, default ``DEFAULT_STEP_TIMEOUT``, recorded in
the artifact's ``config.step_timeout``): a block covering k steps gets k times it, so the timer is
armed once per block (an import, a shape check, one arm's training on its cases), never per step,
and the steps themselves pay nothing. Code that holds the interpreter in C (one long XLA kernel)
sees the exception when it returns to Python.

Signals reach only the main thread: elsewhere (a thread of the Ray engine) ``limit`` is a no-op.
An outer limit that ends sooner is kept.
"""

from __future__ import annotations

import math
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from paritybench.errors import ParityError

# Seconds one training step (one import, one shape check, one step of an arm's training) may take:
# a hung run ends within minutes, with room for a slow machine and a cold compile cache.
DEFAULT_STEP_TIMEOUT = 300.0

_current = DEFAULT_STEP_TIMEOUT


class TimeLimit(Exception):  # noqa: N818 - the name is what the arm's reason shows
    """A user function did not return within its limit (an ``Exception``: the arm's error, not the run's)."""


def configure(seconds: float | None) -> float:
    """Set this process's step limit (``--step-timeout``); None keeps the default. Returns it."""
    global _current
    if seconds is not None:
        check(seconds)
        _current = float(seconds)
    return _current


def step_timeout() -> float:
    return _current


def check(seconds: float) -> None:
    if not (isinstance(seconds, int | float) and math.isfinite(seconds) and seconds > 0):
        raise ParityError(
            f"--step-timeout {seconds}: give a positive number of seconds (default {DEFAULT_STEP_TIMEOUT:g})"
        )


def available() -> bool:
    """Whether ``limit`` can enforce a limit here (POSIX, main thread)."""
    return hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()


@contextmanager
def limit(seconds: float | None, what: str) -> Iterator[bool]:
    """Raise ``TimeLimit`` in the block if it runs longer than ``seconds``; yields whether it is enforced."""
    if not seconds or not available():
        yield False
        return
    outer_left, _ = signal.getitimer(signal.ITIMER_REAL)
    if outer_left and outer_left <= seconds:  # an enclosing limit ends first: it stays in charge
        yield True
        return
    armed = [True]

    def on_alarm(signum, frame):
        if armed[0]:
            raise TimeLimit(f"{what} did not return within {seconds:g} s (--step-timeout {_current:g} per step)")

    def quiet(unraisable):  # a TimeLimit Python had to ignore: the next tick raises it again, where it counts
        if not isinstance(unraisable.exc_value, TimeLimit):
            hook(unraisable)

    hook = sys.unraisablehook
    sys.unraisablehook = quiet
    previous = signal.signal(signal.SIGALRM, on_alarm)
    t0 = time.monotonic()
    # then again every second: a handler that runs inside a callback whose exceptions Python ignores (a gc
    # callback: "Exception ignored in ...") would otherwise be lost, and the block would hang on
    signal.setitimer(signal.ITIMER_REAL, seconds, min(1.0, seconds))
    try:
        yield True
    finally:
        armed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        sys.unraisablehook = hook
        if outer_left:  # the enclosing limit goes on with what it had left
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.monotonic() - t0), 1e-3))


__all__ = ["DEFAULT_STEP_TIMEOUT", "TimeLimit", "configure", "limit", "step_timeout", "available"]
