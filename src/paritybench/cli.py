"""The ``paritybench`` command: builds the parser from the registered ``paritybench.commands`` and dispatches.

Framework imports happen only after the numerics flags are in the environment:
this module imports none at load time, and each command imports what it needs
after ``flags.apply``. No command imports this module.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from rich.console import Console

from paritybench import __version__
from paritybench.commands import COMMANDS, exit_status, load
from paritybench.procs import install_signal_handlers


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser. Of the commands, only the one ``argv`` names is imported and given its options (every one
    where ``argv`` is None); the others are listed by name and help from ``commands.COMMANDS``, so that
    ``paritybench --help`` and each command load only the modules they use."""
    parser = argparse.ArgumentParser(
        prog="paritybench",
        description="Paired training arms from one set of initial weights: why one model trains differently "
        "in two frameworks or on two machines, with the evidence in a JSON artifact.",
    )
    parser.add_argument("--version", action="version", version=f"paritybench {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    # the top level takes no option with a value: the first word that is not an option names the command
    named = next((a for a in argv if not a.startswith("-")), None) if argv is not None else None
    for name, (_, help) in COMMANDS.items():
        if argv is None or name == named:
            command = load(name)
            command.setup_arguments(sub).set_defaults(func=command.run)
        else:
            sub.add_parser(name, help=help)
    return parser


def blank_option(parser: argparse.ArgumentParser, args: argparse.Namespace) -> str | None:
    """The first option given as an empty or blank string (``--out ''``, ``--workload ''``), named as
    the user typed it; None when there is none. Such a value used to mean "the default" in silence
    (``--out ''`` wrote to results/runs/, ``--workload ''`` ran seed-bce, ``--data ''`` the bundled
    slice). ``--arms`` is left to ``commands.common.parse_arms``, whose refusal names the valid arms."""
    command = parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            command = action.choices.get(getattr(args, action.dest, None) or "", parser)
    for action in command._actions:
        value = getattr(args, action.dest, None)
        if isinstance(value, list):  # positional paths (compare A B, merge A B ...): any one blank
            value = next((v for v in value if isinstance(v, str) and not v.strip()), None)
        if action.dest == "arms":  # commands.common.parse_arms refuses it naming the workload's valid arms
            continue
        if isinstance(value, str) and not value.strip() and value != action.default:
            name = next((o for o in action.option_strings if o.startswith("--")), None)
            if name is None:
                return f"an argument ({action.metavar or action.dest}) is empty ({value!r}): give a path"
            return f"{name} {value!r} is empty: give a value, or leave {name} out for its default"
    return None


def main(argv: list[str] | None = None) -> int:
    # Wide enough for the run table when output is a pipe or a CI log.
    console = Console(width=None if sys.stdout.isatty() else 120)
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    blank = blank_option(parser, args)
    if blank:
        print(f"paritybench: error: {blank}", file=sys.stderr)
        return 2

    install_signal_handlers()  # SIGTERM/SIGINT unwind (worker killed, temp folders removed)
    return exit_status(lambda: args.func(args, console))


if __name__ == "__main__":
    sys.exit(main())
