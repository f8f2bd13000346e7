"""Checking a workload's ``"package.module:function"`` references when it loads, without running them.

A reference names framework code (a JAX loss, a Keras builder, a torch optimizer) that must not be imported
while a workload loads: the numerics flags are set first, and a Keras worker loads workloads before Keras
picks its backend. So a reference is checked by reading, not importing: ``importlib.util.find_spec`` finds
the module's file (importing only its parent packages, which for paritybench's own workloads load no
framework), and the file's top-level statements must bind the name (a ``def``, a class, an assignment or an
import; a name imported from another module is followed there, so a re-export of a misspelt name is caught
too). A module already imported is asked directly. What cannot be read (an extension module, a module with
``from x import *`` or a module-level ``__getattr__``) is accepted once found, and resolved when the arm runs
(``base.resolve_ref``).
"""

from __future__ import annotations

import ast
import importlib.util
import sys
from dataclasses import fields
from functools import cache
from pathlib import Path

_UNKNOWN = object()  # the module binds names this reading cannot list


def ref_fields(cls) -> tuple[str, ...]:
    """The fields of a declaration class that hold a reference (annotated ``Ref`` or ``Ref | None``)."""
    return tuple(f.name for f in fields(cls) if str(f.type).replace(" ", "") in ("Ref", "Ref|None"))


def _bindings(tree: ast.Module) -> dict[str, tuple[str, str] | None] | object:
    """Top-level name -> (module, name) where it is imported from another module, None where it is defined
    here; ``_UNKNOWN`` where the module can bind names no reading lists."""
    out: dict[str, tuple[str, str] | None] = {}

    def visit(body) -> bool:
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if node.name == "__getattr__":
                    return False
                out[node.name] = None
            elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            out[n.id] = None
            elif isinstance(node, ast.Import):
                for a in node.names:
                    out[a.asname or a.name.split(".")[0]] = None
            elif isinstance(node, ast.ImportFrom):
                for a in node.names:
                    if a.name == "*":
                        return False
                    source = node.module if node.level == 0 else None  # a relative import: taken as bound
                    out[a.asname or a.name] = (source, a.name) if source else None
            elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
                blocks = [node.body, getattr(node, "orelse", []), getattr(node, "finalbody", [])]
                blocks += [h.body for h in getattr(node, "handlers", [])]
                if isinstance(node, ast.For):
                    blocks.append([ast.Assign(targets=[node.target], value=ast.Constant(None))])
                if not all(visit(b) for b in blocks):
                    return False
        return True

    return out if visit(tree.body) else _UNKNOWN


@cache
def _module_names(module: str) -> tuple[str | None, object]:
    """(the module's file or None, its bindings or ``_UNKNOWN``); raises LookupError naming what is wrong."""
    try:
        spec = importlib.util.find_spec(module)
    except Exception as exc:  # a parent package that fails to import: the user's to fix, said in one line
        raise LookupError(f"names module {module}, which cannot be found ({type(exc).__name__}: {exc})") from None
    if spec is None:
        raise LookupError(f"names module {module}, which cannot be found")
    origin = spec.origin
    if not origin or not origin.endswith(".py") or not Path(origin).is_file():
        return origin, _UNKNOWN  # an extension or namespace module: found, its names read when it runs
    try:
        tree = ast.parse(Path(origin).read_text(), origin)
    except SyntaxError as exc:
        raise LookupError(
            f"names module {module} ({origin}), which does not parse: line {exc.lineno}: {exc.msg}"
        ) from None
    return origin, _bindings(tree)


def _defines(module: str, name: str, seen: frozenset = frozenset()) -> str | None:
    """None when ``module`` binds ``name`` (following re-exports); else what is wrong."""
    if module in sys.modules:
        mod = sys.modules[module]
        return None if hasattr(mod, name) else f"names {name}, which {module} does not define"
    try:
        origin, names = _module_names(module)
    except LookupError as exc:
        return str(exc)
    if not isinstance(names, dict):  # _UNKNOWN: names no reading lists
        return None
    if name not in names:
        return f"names {name}, which {module} ({origin}) does not define"
    source = names[name]
    if source is None or (module, name) in seen:
        return None
    inner = _defines(source[0], source[1], seen | {(module, name)})
    return None if inner is None else f"names {name}, which {module} imports from {source[0]}, but that {inner}"


def problem(ref) -> str | None:
    """What is wrong with a reference (None when nothing is): a callable or None passes; a string must be
    ``"package.module:attribute"`` naming a module that can be found and a name it binds."""
    if ref is None or callable(ref):
        return None
    if not isinstance(ref, str):
        return f"is a {type(ref).__name__}: give a callable or 'package.module:function'"
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr or not all(p.isidentifier() for p in (*module.split("."), *attr.split("."))):
        return "is not 'package.module:function'"
    return _defines(module, attr.split(".")[0])
