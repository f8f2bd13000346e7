"""The package's shape: the flow's steps as subpackages, commands that never import the CLI, the Docker
driver outside the installed library, and every module importable on its own."""

from __future__ import annotations

import importlib
import pkgutil

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
        "pipeline",
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
    import subprocess
    import sys

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


def test_commands_registry_names_importable_modules():
    from paritybench.commands import COMMAND_MODULES

    for name in COMMAND_MODULES:
        assert hasattr(importlib.import_module(name), "add_parser"), name
