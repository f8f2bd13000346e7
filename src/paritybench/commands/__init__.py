"""The commands, one module each (as asv's ``commands/``): every subcommand is a ``Command`` subclass with
``setup_arguments(sub)`` (its parser, added to the CLI's subparsers and returned) and ``run(args, console)``
(its exit status).

The CLI builds its parser from ``registered()`` and dispatches to ``run``; a command never imports the CLI,
and shares what it needs through ``commands.common``. A command turns its parsed options into the typed values
the library takes. Each module imports no framework at load time: the numerics flags must be in the
environment first.
"""

from __future__ import annotations

import argparse
import importlib
from typing import ClassVar

COMMAND_MODULES: tuple[str, ...] = (
    "paritybench.commands.run",
    "paritybench.commands.sweep",  # sweep, sensitivity
    "paritybench.commands.merge",
    "paritybench.commands.nodes",
    "paritybench.commands.compare",
    "paritybench.commands.report",
    "paritybench.commands.timing",
    "paritybench.commands.devices",
    "paritybench.commands.basic",  # validate, data, workloads, env
    "paritybench.commands.conventions",
    "paritybench.commands.localize",
)


class Command:
    """One ``paritybench`` subcommand. A subclass is registered by being defined in a module of
    ``COMMAND_MODULES``; the parser lists the subcommands in that order (modules, then definition order)."""

    name: ClassVar[str]
    _defined: ClassVar[list[type[Command]]] = []

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        Command._defined.append(cls)

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        """Add this command's parser to ``subparsers`` and return it."""
        raise NotImplementedError

    @classmethod
    def run(cls, args: argparse.Namespace, console) -> int:
        """Run the command with its parsed options; return the exit status."""
        raise NotImplementedError


def registered() -> list[type[Command]]:
    """Every command, in the order the parser lists them."""
    for module in COMMAND_MODULES:
        importlib.import_module(module)
    order = {m: i for i, m in enumerate(COMMAND_MODULES)}
    ranked = [c for c in Command._defined if c.__module__ in order]
    return sorted(ranked, key=lambda c: (order[c.__module__], Command._defined.index(c)))
