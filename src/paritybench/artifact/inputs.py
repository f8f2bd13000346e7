"""Input files a user hands paritybench: read and judged the same way by every command.

- ``read_json``: one reader for artifacts, sensitivity files and timing files. A
  missing path, a directory, a special file, an unreadable file, bytes that are
  not UTF-8 JSON, and JSON nested deeper than ``MAX_JSON_DEPTH`` are each a
  one-line ``ParityError`` (Python's JSON parser raises RecursionError near 1,000
  levels, and the code that walks the result recurses too; real artifacts are at
  most 8 levels deep, timing files about as deep).
- ``artifact_problems`` / ``check_artifact_file`` (in ``paritybench.artifact``, beside the schema): what a
  valid artifact is, with ``weights_file_problem`` from here.
- ``weights_path_of``: ``weights_file`` is confined to the artifact's own folder:
  a plain file name, never a path, and not a link that leads out of the folder.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

from paritybench.errors import ParityError

# Deepest nesting accepted in any JSON input (artifacts measure 7-8: tests/data, results/baselines).
MAX_JSON_DEPTH = 64


def json_depth(obj: Any, limit: int = MAX_JSON_DEPTH) -> int:
    """Nesting depth of a parsed JSON value (a scalar is 1), iteratively; stops counting past ``limit``."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return deepest


def check_input_file(path: str | os.PathLike, what: str, hint: str) -> Path:
    """An existing, readable regular file (links followed), or a one-line ParityError saying which it is not."""
    p = Path(path)
    try:
        mode = os.stat(p).st_mode
    except FileNotFoundError:
        dangling = " (a symbolic link to nothing)" if os.path.islink(p) else ""
        raise ParityError(f"{what} {p} does not exist{dangling}: {hint}") from None
    except OSError as exc:
        raise ParityError(f"{what} {p} cannot be read ({exc.strerror or exc}): {hint}") from None
    if stat.S_ISDIR(mode):
        raise ParityError(f"{what} {p} is a directory: {hint}")
    if not stat.S_ISREG(mode):
        raise ParityError(f"{what} {p} is not a regular file (a device, FIFO or socket): {hint}")
    return p


class _NonStandard:
    """A bare ``NaN``/``Infinity``/``-Infinity`` literal as parsed (not JSON: RFC 8259 has no such token)."""

    def __init__(self, token: str):
        self.token = token


def _first_nonstandard(obj: Any) -> tuple[str, str] | None:
    """(JSON path, token) of the first bare non-finite literal in a parsed value, depth first in file order."""
    stack: list[tuple[Any, str]] = [(obj, "")]
    while stack:
        node, where = stack.pop()
        if isinstance(node, _NonStandard):
            return where or "(top level)", node.token
        if isinstance(node, dict):
            stack.extend((v, f"{where}/{k}".lstrip("/")) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, f"{where}/{i}".lstrip("/")) for i, v in reversed(list(enumerate(node))))
    return None


def read_json(
    path: str | os.PathLike,
    what: str = "artifact",
    hint: str = "pass the path of a paritybench JSON artifact",
    strict: bool = True,
) -> Any:
    """Parse a JSON input file; every way it can be unusable is one line naming the file and the fix.

    ``strict``: a bare ``NaN``, ``Infinity`` or ``-Infinity`` (Python's json module reads and writes
    them by default; jq and browsers reject them) is refused, naming where it is: paritybench writes
    with ``allow_nan=False`` and records a non-finite number as the string "nan"/"inf"/"-inf"
    (``paritybench.artifact.num``), so reader and writer agree on strict JSON. Files written by
    other tools (pytest-benchmark's timing files) are read with ``strict=False``."""
    p = check_input_file(path, what, hint)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ParityError(f"{what} {p} cannot be read ({exc.strerror or exc}): {hint}") from None
    except UnicodeDecodeError as exc:
        raise ParityError(f"{what} {p} is not valid JSON ({exc}): it is damaged; {hint}") from None
    try:
        obj = json.loads(text, parse_constant=_NonStandard if strict else None)
    except json.JSONDecodeError as exc:
        raise ParityError(f"{what} {p} is not valid JSON ({exc}): it is damaged; {hint}") from None
    except RecursionError:
        raise ParityError(
            f"{what} {p} is nested too deeply for Python's JSON parser (about 1,000 levels): it "
            f"is not a paritybench file; {hint}"
        ) from None
    if json_depth(obj) > MAX_JSON_DEPTH:
        raise ParityError(
            f"{what} {p} is nested more than {MAX_JSON_DEPTH} levels deep (paritybench files are "
            f"under 10): it is not a paritybench file; {hint}"
        )
    bad = _first_nonstandard(obj) if strict else None
    if bad is not None:
        raise ParityError(
            f"{what} {p} is not strict JSON: a bare {bad[1]} at {bad[0]} (JSON has no NaN or Infinity; "
            'paritybench writes a non-finite number as the string "nan", "inf" or "-inf"); fix or re-create the file'
        )
    return obj


def confined_name_problem(
    beside: Path, name: object, field: str, owner: str, example: str, fix_plain: str, fix_link: str
) -> str | None:
    """Why ``name`` (``field`` of the file ``beside``, called ``owner`` in messages) is not a plain
    file name in ``beside``'s folder (None when it is). A name with a separator, ``..``, an absolute
    path, or a link that resolves outside the folder is refused: a file paritybench reads must never
    make it read (and report on) a file elsewhere on the machine."""
    name = str(name)
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\x00" in name or os.path.isabs(name):
        return f"{field} {name!r} is not a plain file name: it must sit beside {owner} (e.g. {example}); {fix_plain}"
    folder = Path(os.path.abspath(beside)).parent
    candidate = folder / name
    if os.path.islink(candidate):
        try:
            target: Path | None = candidate.resolve(strict=False)
        except (OSError, RuntimeError):  # a link loop
            target = None
        if target is None or target.parent != folder.resolve():
            return f"{field} {name} is a symbolic link to {target}, outside {owner}'s folder: {fix_link}"
    return None


def weights_file_problem(artifact_path: Path, weights_file: object) -> str | None:
    """Why ``weights_file`` may not be read (None when it may), confined to the artifact's folder."""
    if weights_file is None:
        return None
    return confined_name_problem(
        Path(artifact_path),
        weights_file,
        "weights_file",
        "the artifact",
        "run.weights.npz",
        "fix or remove the field",
        "copy the weights file beside the artifact",
    )


def weights_path_of(artifact_path: Path, weights_file: object) -> Path | None:
    """The artifact's weights file beside it (None when it names none); ParityError when not confined."""
    problem = weights_file_problem(artifact_path, weights_file)
    if problem:
        raise ParityError(f"artifact {artifact_path}: {problem}")
    return None if weights_file is None else Path(os.path.abspath(artifact_path)).parent / str(weights_file)
