"""A command's options as the CLI parses an empty command line: where the Python API (``paritybench.api``)
starts, so that a call and the command take the same defaults from one definition (each command's
``setup_arguments``), and an option added there reaches the API without a second list to keep."""

from __future__ import annotations

import argparse
from typing import Any

from paritybench.commands import registered


def parsed_defaults(name: str) -> dict[str, Any]:
    """The options of command ``name`` (``run``, ``localize``, ...) with nothing given on the command line."""
    parser = argparse.ArgumentParser(prog="paritybench")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in registered():
        if command.name == name:
            return vars(command.setup_arguments(sub).parse_args([]))
    raise KeyError(f"no paritybench command {name!r}")
