"""``paritybench devices``: what each framework sees (``frameworks.devices``), and ``--require-gpu``."""

from __future__ import annotations

import argparse
import json

from paritybench.commands import Command
from paritybench.errors import ParityError
from paritybench.frameworks.devices import probe


def cmd_devices(args, console) -> int:
    summary = probe()
    console.print_json(json.dumps(summary))
    if args.require_gpu and not summary["gpu_visible"]:
        raise ParityError(summary["message"], exit_code=3)
    return 0


class DevicesCommand(Command):
    """``paritybench devices``."""

    name = "devices"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        p.add_argument(
            "--require-gpu", action="store_true", help="exit 3 with what to install when JAX or TensorFlow sees no GPU"
        )
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_devices(args, console)
