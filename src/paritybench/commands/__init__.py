"""The commands, one module each (as asv's ``commands/``): every subcommand is a ``Command`` subclass with
``setup_arguments(sub)`` (its parser, added to the CLI's subparsers and returned) and ``run(args, console)``
(its exit status).

The CLI builds its parser from ``COMMANDS`` (each command's name, module and help), imports the one command
it is given (``load``) and dispatches to its ``run``; a command never imports the CLI,
and shares what it needs through ``commands.common``. A command turns its parsed options into the typed values
the library takes. Each module imports no framework at load time: the numerics flags must be in the
environment first.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable
from typing import ClassVar

from paritybench.errors import ParityError
from paritybench.procs import interrupted_message

# Every command: its name, then its module and its one-line help, in the order the parser lists them. The
# top-level parser is built from this table alone; a command's module (its options and its work, and all that
# they import) loads only when that command runs or shows its own --help (``load``).
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("paritybench.commands.run", "train the arms from one set of initial weights; write an artifact"),
    "sweep": ("paritybench.commands.sweep", "every arm over a seed x window grid into one artifact (resumable)"),
    "sensitivity": (
        "paritybench.commands.sweep",
        "train each arm from K ulp-perturbed copies of one initial weight set",
    ),
    "merge": (
        "paritybench.commands.merge",
        "merge the shard artifacts of one sweep (sweep --shard I/N) into one artifact",
    ),
    "nodes": (
        "paritybench.commands.nodes",
        "split a sweep by the machine each run trained on: hardware inside one artifact",
    ),
    "compare": ("paritybench.commands.compare", "compare artifacts run by run: identical, equivalent or divergent"),
    "report": ("paritybench.commands.report", "write report.md and PNG plots from artifacts"),
    "timing": ("paritybench.commands.timing", "report timing files of make bench-timing: ratios, GFLOP/s, noise; plot"),
    "devices": ("paritybench.commands.devices", "the accelerators JAX and TensorFlow see; the CUDA packages installed"),
    "validate": ("paritybench.commands.basic", "check artifacts against the shipped JSON Schema"),
    "data": ("paritybench.commands.basic", "datasets"),
    "workloads": (
        "paritybench.commands.basic",
        "list the built-in and installed workloads and the question each answers",
    ),
    "env": ("paritybench.commands.basic", "print the environment fingerprint and framework numerics settings"),
    "conventions": (
        "paritybench.commands.conventions",
        "each arm's effective settings side by side and the rows that differ (no training)",
    ),
    "localize": (
        "paritybench.commands.localize",
        "the first (step, phase, tensor) at which two arms part, measured against "
        "the float32 noise floor at the same weights",
    ),
    "explain": (
        "paritybench.commands.explain",
        "why two arms part: the convention whose switch brings them back under the noise floor",
    ),
}
COMMAND_MODULES: tuple[str, ...] = tuple(dict.fromkeys(module for module, _ in COMMANDS.values()))


class Command:
    """One ``paritybench`` subcommand: a subclass defined in its module of ``COMMANDS``, under its name there."""

    name: ClassVar[str]
    _defined: ClassVar[list[type[Command]]] = []

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        Command._defined.append(cls)

    @classmethod
    def add_parser(cls, sub) -> argparse.ArgumentParser:
        """This command's parser in the subparsers ``sub``, named and described as ``COMMANDS`` lists it."""
        return sub.add_parser(cls.name, help=COMMANDS[cls.name][1])

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        """Add this command's parser to ``subparsers`` (``add_parser``) with its options and return it."""
        raise NotImplementedError

    @classmethod
    def run(cls, args: argparse.Namespace, console) -> int:
        """Run the command with its parsed options; return the exit status."""
        raise NotImplementedError


def load(name: str) -> type[Command]:
    """The command ``name`` of ``COMMANDS``, its module imported."""
    module = COMMANDS[name][0]
    importlib.import_module(module)
    return next(c for c in Command._defined if c.name == name and c.__module__ == module)


def registered() -> list[type[Command]]:
    """Every command, in the order the parser lists them (every command module imported)."""
    return [load(name) for name in COMMANDS]


def exit_status(command: Callable[[], int], on_interrupt: Callable[[], None] | None = None) -> int:
    """Run ``command`` (a command's work) and return its exit status: a ``ParityError`` is its one line
    ``paritybench: error: ...`` on stderr and its exit code; an interruption (Ctrl-C, SIGTERM) the line and
    status of ``procs.interrupted_message``, after ``on_interrupt``'s clean-up."""
    try:
        return command()
    except ParityError as exc:
        print(f"paritybench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        line, code = interrupted_message(exc)
        print(line, file=sys.stderr)
        if on_interrupt is not None:
            on_interrupt()
        return code
