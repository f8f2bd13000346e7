"""The commands, one module each, every one with ``add_parser(sub)`` (as asv's ``commands/``).

The CLI module builds the parser from this list and dispatches; a command never imports the CLI,
and shares what it needs through ``commands.common``. Each module imports no framework at load time:
the numerics flags must be in the environment first.
"""

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
    "paritybench.commands.conventions",  # issue 12
    "paritybench.commands.localize",  # issue 12
)
