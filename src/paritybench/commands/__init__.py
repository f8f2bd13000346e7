"""The commands, one module each, every one with ``add_parser(sub)`` (as asv's ``commands/``).

The CLI module builds the parser from this list and dispatches; a command never imports the CLI,
and shares what it needs through ``commands.common``. Each module imports no framework at load time:
the numerics flags must be in the environment first.
"""

COMMAND_MODULES: tuple[str, ...] = (
    "paritybench.commands.run",
    "paritybench.studies.sweep",  # sweep, sensitivity
    "paritybench.studies.shard",  # merge
    "paritybench.studies.nodes",
    "paritybench.analysis.compare",
    "paritybench.analysis.report",
    "paritybench.timing",
    "paritybench.frameworks.devices",
    "paritybench.commands.basic",  # validate, data, workloads, env
    "paritybench.commands.conventions",
    "paritybench.commands.localize",
)
