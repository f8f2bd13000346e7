"""The version of every file paritybench writes besides the artifact (which carries ``schema_version``): the
localize record, the explain record, the catalogue index and the sweep checkpoint each carry
``format_version`` ("MAJOR.MINOR").

A reader takes its own major and any minor (a minor adds fields an older reader may skip); a file without
the field was written before the formats were versioned, and is read as 1.0. A major this paritybench does
not read is refused with one line naming the file, both versions and the fix, as ``validate`` refuses an
artifact of another schema major.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from paritybench.errors import ParityError

FORMAT_FIELD = "format_version"
LOCALIZE_RECORD = "1.0"  # ``paritybench localize --out``
EXPLAIN_RECORD = "1.0"  # ``paritybench explain --out`` (read by ``paritybench report``)
CATALOGUE_INDEX = "1.0"  # ``index.json`` of ``paritybench run --workload all``
SWEEP_CHECKPOINT = "1.0"  # line 1 of ``<artifact>.partial.jsonl``
BEFORE_VERSIONS = "1.0"  # what a file without ``format_version`` is read as

_VERSION = re.compile(r"[0-9]+\.[0-9]+")


def format_problem(data: Mapping[str, Any], writes: str, what: str) -> str | None:
    """Why this paritybench cannot read ``data`` (a file of kind ``what`` whose current format is ``writes``),
    or None when it can."""
    version = data.get(FORMAT_FIELD, BEFORE_VERSIONS)
    if not isinstance(version, str) or not _VERSION.fullmatch(version):
        return f"{FORMAT_FIELD} {version!r} is not a version (MAJOR.MINOR): undo the edit, or write the {what} again"
    major, mine = version.split(".")[0], writes.split(".")[0]
    if major != mine:
        return (
            f"{what} {FORMAT_FIELD} {version} has major {major}, this paritybench reads major {mine}: "
            "use a paritybench that reads it"
        )
    return None


def check_format(data: Mapping[str, Any], writes: str, what: str, path: object) -> None:
    """Refuse (exit 2) a file ``path`` this paritybench cannot read (``format_problem``)."""
    problem = format_problem(data, writes, what)
    if problem:
        raise ParityError(f"{path}: {problem}", exit_code=2)
