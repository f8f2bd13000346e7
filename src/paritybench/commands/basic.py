"""Small commands: validate artifacts, fetch data, list workloads, print the environment."""

from __future__ import annotations

import argparse
import json
import sys

from rich.table import Table

from paritybench import workloads
from paritybench.artifact import validate_file
from paritybench.commands import Command
from paritybench.errors import ParityError
from paritybench.experiment import environment, flags
from paritybench.experiment.data import fetch, load_mnist
from paritybench.experiment.flags import NumericsOptions
from paritybench.frameworks.devices import gpu_summary


class ValidateCommand(Command):
    """``paritybench validate``."""

    name = "validate"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        p.add_argument("files", nargs="+")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_validate(args, console)


class DataCommand(Command):
    """``paritybench data fetch``."""

    name = "data"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        p = cls.add_parser(sub)
        dsub = p.add_subparsers(dest="data_command", required=True)
        f = dsub.add_parser("fetch", help="download Keras's official mnist.npz and verify its sha256")
        f.add_argument("--cache-dir", default=None, help="where to keep it (default ~/.cache/paritybench)")
        return p

    @classmethod
    def run(cls, args, console) -> int:
        return {"fetch": cmd_data_fetch}[args.data_command](args, console)


class WorkloadsCommand(Command):
    """``paritybench workloads``."""

    name = "workloads"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        return cls.add_parser(sub)

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_workloads(args, console)


class EnvCommand(Command):
    """``paritybench env``."""

    name = "env"

    @classmethod
    def setup_arguments(cls, sub) -> argparse.ArgumentParser:
        return cls.add_parser(sub)

    @classmethod
    def run(cls, args, console) -> int:
        return cmd_env(args, console)


def cmd_validate(args, console) -> int:
    # Every file is judged (a bad one does not hide the next); the exit status is the worst.
    status = 0
    for path in args.files:
        try:
            a = validate_file(path)
        except ParityError as exc:
            print(f"paritybench: error: {exc}", file=sys.stderr)
            status = max(status, exc.exit_code)
            continue
        console.print(f"{path}: valid (schema {a['schema_version']}, {len(a['runs'])} runs)")
    return status


def cmd_data_fetch(args, console) -> int:
    path = fetch(args.cache_dir)
    ds = load_mnist(path)
    console.print(f"{path}: sha256 {ds.sha256}, {ds.x_train.shape[0]} training images")
    return 0


def cmd_env(args, console) -> int:
    opts = NumericsOptions()
    flags.apply(opts)
    env = environment.fingerprint()
    fw = {}
    for name in flags.FRAMEWORKS:
        try:
            fw[name] = flags.read_back(name, opts)
        except ImportError as exc:
            fw[name] = {"not_installed": str(exc)}
    env["frameworks"] = fw

    env["gpu"] = gpu_summary(fw["jax"].get("devices", []), fw["tensorflow"].get("devices", []), None)
    console.print_json(json.dumps(env, default=str))
    return 0


def cmd_workloads(args, console) -> int:
    """List the built-in and installed workloads with their one-line questions."""
    t = Table(title="workloads (--workload NAME, or path/to/file.py, or package.module:attr)")
    for col in ("name", "version", "arms", "question"):
        t.add_column(col, overflow="fold")
    for name, w, question in workloads.discover():
        t.add_row(name, w.version if w else "-", str(len(w.arms)) if w else "-", question)
    console.print(t)
    return 0
