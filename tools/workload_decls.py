"""Every built-in workload's declaration as JSON: to show that a refactor of the declarations changed nothing.

Usage: ``.venv/bin/python tools/workload_decls.py [--out FILE]`` writes the dump (stdout without ``--out``);
``.venv/bin/python tools/workload_decls.py --against FILE`` dumps again and exits 1 listing every workload
whose declaration differs from FILE's (0 when none does).

The dump is ``dataclasses.asdict`` of each ``Workload`` (data, training, model, every arm with its
references, evidence and conventions) without ``origin``: ``origin.sha256`` hashes the folder's source
files (``registry.module_sha256``), so it changes with any edit of them, a comment included. Each entry
also carries ``decl_sha256``, a sha256 over that JSON (keys in declared order), and ``repr_sha256``, one over
the declaration's ``repr`` (which tells a tuple from a list), to compare at a glance.
Loading a declaration imports no framework.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from paritybench.workloads import registry


def _canonical(x: Any) -> Any:
    """JSON-ready: tuples as lists, mappings with their keys in declared order, callables by their name."""
    if isinstance(x, dict):
        return {str(k): _canonical(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_canonical(v) for v in x]
    if callable(x):
        return f"<callable {getattr(x, '__module__', '?')}:{getattr(x, '__qualname__', repr(x))}>"
    return x


# Arm fields added after the dumps were first taken, left out of the dump (JSON and repr) where an arm leaves them at
# their default, so an earlier dump still compares; an arm that sets one shows it.
ADDED_ARM_FIELDS = {"keras_edits": ()}


def declaration(name: str) -> dict[str, Any]:
    """The built-in workload ``name``'s declaration (every field but ``origin``), JSON-ready."""
    w = registry.load(name)
    decl = {f.name: _canonical(dataclasses.asdict(w)[f.name]) for f in dataclasses.fields(w) if f.name != "origin"}
    for arm in decl.get("arms", []):
        for key, default in ADDED_ARM_FIELDS.items():
            if key in arm and arm[key] == _canonical(default):
                del arm[key]
    text = json.dumps(decl, sort_keys=False)
    # repr keeps what JSON loses (a tuple from a list, a key's type); a callable's repr carries its address,
    # but the built-in workloads declare none (every reference is a "module:function" string).
    rep = repr(dataclasses.replace(w, origin={}))
    for key, default in ADDED_ARM_FIELDS.items():
        rep = rep.replace(f", {key}={default!r})", ")")
    return {
        "decl_sha256": hashlib.sha256(text.encode()).hexdigest(),
        "repr_sha256": hashlib.sha256(rep.encode()).hexdigest(),
        "declaration": decl,
    }


def dump() -> dict[str, Any]:
    return {name: declaration(name) for name in registry.BUILTIN}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="write the dump here (default: stdout)")
    ap.add_argument("--against", type=Path, help="compare with this earlier dump; exit 1 if any workload differs")
    args = ap.parse_args(argv)
    now = dump()
    if args.against:
        before = json.loads(args.against.read_text())
        changed = sorted(n for n in {*before, *now} if before.get(n) != now.get(n))
        for n in changed:
            print(f"differs: {n}")
        print(f"{len(now)} workloads, {len(changed)} differ from {args.against}")
        return 1 if changed else 0
    text = json.dumps(now, indent=1) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
