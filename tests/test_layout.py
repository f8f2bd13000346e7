"""The package's shape: the flow's steps as subpackages, imports that run one way (the import-linter contract in
pyproject.toml, no module cycle, paritybench's own modules imported at module top), every command in
``commands/``, arms reached through their kind, the Docker driver outside the installed library, and every
module importable on its own without a framework."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import paritybench

from .conftest import ROOT

SRC = ROOT / "src" / "paritybench"


def test_the_flow_is_the_package_layout():
    subpackages = {p.name for p in SRC.iterdir() if (p / "__init__.py").is_file()}
    assert {
        "experiment",
        "workloads",
        "frameworks",
        "arms",
        "adapters",
        "pipeline",
        "switches",
        "artifact",
        "studies",
        "analysis",
        "timing",
        "commands",
    } <= subpackages


def test_no_module_imports_the_cli():
    offenders = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if p.name not in ("cli.py", "__main__.py") and "paritybench.cli" in p.read_text()
    ]
    assert offenders == []


def test_the_docker_driver_is_project_tooling_not_library():
    assert not (SRC / "images.py").exists() and (ROOT / "tools" / "images.py").is_file()
    assert "tools/images.py" in (ROOT / "Makefile").read_text()


def test_every_module_imports_without_a_framework():
    """Loading any module (not running it) pulls in no ML framework: the flags must come first."""
    names = [
        m.name
        for m in pkgutil.walk_packages(paritybench.__path__, "paritybench.")
        if ".workloads." not in m.name or m.name.endswith((".workload", "_ce", "_bce"))
    ]
    code = (
        "import importlib, sys\n"
        f"for n in {names!r}:\n"
        "    if n.rsplit('.', 1)[-1] in ('jax_model', 'jax', 'tensorflow', 'torch', '__main__'):\n"
        "        continue\n"
        "    importlib.import_module(n)\n"
        "print(sorted(m for m in ('jax', 'tensorflow', 'torch', 'keras', 'optax') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[]"


def test_commands_are_registered_command_classes():
    from paritybench.commands import COMMAND_MODULES, Command, registered

    commands = registered()
    assert all(issubclass(c, Command) and c.__module__ in COMMAND_MODULES for c in commands)
    assert {c.__module__ for c in commands} == set(COMMAND_MODULES)  # every listed module defines a command
    assert len({c.name for c in commands}) == len(commands) == 16


def test_the_top_level_parser_imports_no_command_and_a_command_only_its_own_module():
    """``paritybench --help`` lists the commands from ``commands.COMMANDS`` without importing them (nor numpy);
    ``paritybench compare ...`` imports compare's module and not run's. The help text is the same either way."""
    code = (
        "import sys\n"
        "from paritybench.cli import build_parser\n"
        "top = build_parser(['--help']).format_help()\n"
        "print(sorted(m for m in sys.modules if m.startswith('paritybench.')), 'numpy' in sys.modules)\n"
        "build_parser(['compare', 'a.json', 'b.json'])\n"
        "print('paritybench.commands.compare' in sys.modules, 'paritybench.commands.run' in sys.modules)\n"
        "print(top == build_parser().format_help())\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    top, compare, same = proc.stdout.strip().splitlines()
    expected = ["paritybench.cli", "paritybench.commands", "paritybench.errors", "paritybench.procs"]
    assert top == f"{expected} False"
    assert compare == "True False" and same == "True"


def test_the_import_contract_is_kept():
    """``lint-imports`` (import-linter, configured in pyproject.toml): cli -> commands -> studies -> pipeline ->
    arms -> adapters -> workloads -> frameworks | analysis | timing -> experiment -> artifact -> procs | errors, and
    analysis imports nothing that trains or runs a command."""
    exe = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(exe)], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "2 kept, 0 broken" in proc.stdout


def test_no_module_import_cycle():
    """The drawing of the package's imports (every import, at module top or in a function) has no cycle,
    between modules or between a package and its own modules."""
    import grimp

    graph = grimp.build_graph("paritybench")
    modules = sorted(graph.modules)
    cycles = [
        (a, b)
        for a in modules
        for b in graph.find_modules_directly_imported_by(a)
        if a < b and graph.chain_exists(importer=b, imported=a)
    ]
    assert cycles == []
    # and the drawing of the subpackages (each with everything inside it): no two reach each other
    packages = sorted(m for m in modules if m.count(".") == 1)
    package_cycles = [
        (a, b)
        for a in packages
        for b in packages
        if a < b
        and graph.chain_exists(importer=a, imported=b, as_packages=True)
        and graph.chain_exists(importer=b, imported=a, as_packages=True)
    ]
    assert package_cycles == []


# What may be imported inside a function: the frameworks (they must load after the numerics flags) and the
# slow imports few commands need. Everything else, paritybench's own modules first, is imported at module top.
LATE = {"jax", "jaxlib", "tensorflow", "keras", "torch", "optax", "flax", "ray", "matplotlib", "scipy", "jsonschema"}


def _function_level_imports(tree: ast.AST):
    def walk(node, in_function):
        for child in ast.iter_child_nodes(node):
            inside = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            if in_function and isinstance(child, (ast.Import, ast.ImportFrom)):
                yield child
            yield from walk(child, inside)

    yield from walk(tree, False)


def test_imports_inside_functions_are_late_loads_with_their_reason():
    """An import inside a function is a framework (or a slow import) and says why on its line or the line
    above; paritybench's own modules are imported at module top, so the drawing shows every corridor (except in
    the Ray task, which must set the numerics environment before anything imports numpy, and in the pytest
    plugin, which pytest imports into every session)."""
    offenders = []
    for p in SRC.rglob("*.py"):
        lines = p.read_text().splitlines()
        for node in _function_level_imports(ast.parse("\n".join(lines))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            late = all(n.split(".")[0] in LATE for n in names) and not getattr(node, "level", 0)
            # the one entry point that must set the environment before numpy loads: a Ray task is unpickled
            # in a fresh worker by importing its module (studies.ray_task), then sets the driver's numerics
            late = late or (
                p.relative_to(SRC).as_posix() == "studies/ray_task.py" and names[0].startswith("paritybench.")
            )
            # the pytest plugin (entry point pytest11) is imported into every pytest session wherever paritybench
            # is installed: it loads the API when a test first calls it (pytest --co on one file: 0.6-1.4 s
            # without the plugin, 1.2-2.9 s with the API at its top, on a shared 2-core machine)
            late = late or (p.relative_to(SRC).as_posix() == "testing.py" and names[0] == "paritybench")
            said = "# late: " in lines[node.lineno - 1] or lines[node.lineno - 2].strip().startswith("# late: ")
            if not (late and said):
                offenders.append(f"{p.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_arms_are_reached_through_their_kind():
    """No module outside the workloads' declarations branches on an arm's kind name: the kinds are registered
    once (arms.registry) and the runner, budget, shard, localize and conventions call them."""
    from paritybench.arms.registry import KINDS
    from paritybench.workloads.base import KINDS as DECLARED

    assert set(KINDS) == set(DECLARED)
    offenders = []
    for p in SRC.rglob("*.py"):
        if "workloads" in p.relative_to(SRC).parts:
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Attribute) and side.attr == "kind" for side in (node.left, *node.comparators)
            ):
                offenders.append(f"{p.relative_to(SRC)}:{node.lineno}")
    assert offenders == []


def test_every_command_lives_in_commands_and_the_library_never_sees_argparse():
    """Commands (and only they) parse options: no module outside ``commands/`` (and the CLI) adds a
    parser or names argparse."""
    from paritybench.commands import COMMAND_MODULES

    assert all(name.startswith("paritybench.commands.") for name in COMMAND_MODULES)
    outside = [
        str(p.relative_to(SRC))
        for p in SRC.rglob("*.py")
        if "commands" not in p.relative_to(SRC).parts
        and p.name != "cli.py"
        and any(w in p.read_text() for w in ("add_parser(", "argparse"))
    ]
    assert outside == []


def test_the_ray_task_module_loads_no_numpy():
    """Ray unpickles the sweep's task by importing its module in a fresh worker; the task then sets the driver's
    numerics environment (OMP_NUM_THREADS and the rest), which numpy's BLAS reads when numpy is imported."""
    code = "import sys, paritybench.studies.ray_task; print('numpy' in sys.modules)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0 and proc.stdout.strip() == "False", proc.stderr[-2000:]
