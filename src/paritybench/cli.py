"""The ``paritybench`` command: builds the parser from the registered ``paritybench.commands`` and dispatches.

Framework imports happen only after the numerics flags are in the environment:
this module imports none at load time, and each command imports what it needs
after ``flags.apply``. No command imports this module.
"""

from __future__ import annotations

import argparse
import sys

from rich.console import Console

from paritybench import __version__
from paritybench.commands import registered
from paritybench.errors import ParityError
from paritybench.procs import install_signal_handlers, interrupted_message


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="paritybench",
        description="Paired training arms from one set of initial weights: why one model trains differently "
        "in two frameworks or on two machines, with the evidence in a JSON artifact.",
    )
    parser.add_argument("--version", action="version", version=f"paritybench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for command in registered():
        command.setup_arguments(sub).set_defaults(func=command.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    # Wide enough for the run table when output is a pipe or a CI log.
    console = Console(width=None if sys.stdout.isatty() else 120)
    args = build_parser().parse_args(argv)

    install_signal_handlers()  # issue 9: SIGTERM/SIGINT unwind (worker killed, temp folders removed)
    try:
        return args.func(args, console)
    except ParityError as exc:
        print(f"paritybench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        line, code = interrupted_message(exc)
        print(line, file=sys.stderr)
        return code


if __name__ == "__main__":
    sys.exit(main())
