"""The catalogue index (``index.json`` beside the artifacts of ``paritybench run --workload all``): its kind,
and reading it back for ``report``."""

from __future__ import annotations

import json
from pathlib import Path

from paritybench.errors import ParityError

INDEX_KIND = "catalogue-index"


def read_index(path: str | Path) -> dict:
    """A catalogue index, checked enough to be used (kind and workload entries)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise ParityError(f"{path}: cannot read the catalogue index ({exc})", exit_code=2) from None
    if not isinstance(data, dict) or data.get("kind") != INDEX_KIND or not isinstance(data.get("workloads"), list):
        raise ParityError(
            f"{path} is not a catalogue index (kind {INDEX_KIND!r}): give the index.json that "
            "`paritybench run --workload all` wrote",
            exit_code=2,
        )
    return data


def is_index(path: str | Path) -> bool:
    """Whether ``path`` is a catalogue index (anything unreadable is left to the artifact checks)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError):  # left to the artifact checks' one-line errors
        return False
    return isinstance(data, dict) and data.get("kind") == INDEX_KIND
