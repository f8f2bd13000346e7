"""The catalogue index (``index.json`` beside the artifacts of ``paritybench run --workload all``): its kind,
and reading it back for ``report``."""

from __future__ import annotations

import json
from pathlib import Path

from paritybench.artifact.formats import CATALOGUE_INDEX, FORMAT_FIELD, check_format
from paritybench.artifact.inputs import check_input_file, confined_name_problem, read_json
from paritybench.errors import ParityError

INDEX_KIND = "catalogue-index"


INDEX_STATUSES = ("ok", "partial", "skipped", "error")


def index_record(created_at: str, total_seconds: float, entries: list[dict]) -> dict:
    """The index ``run --workload all`` writes: its kind and format version, then one entry per workload."""
    return {
        "kind": INDEX_KIND,
        FORMAT_FIELD: CATALOGUE_INDEX,
        "created_at": created_at,
        "total_seconds": total_seconds,
        "workloads": entries,
    }


def read_index(path: str | Path) -> dict:
    """A catalogue index, checked as strictly as an artifact: read by the one JSON reader, its kind,
    and every entry a workload name with a plain file name beside the index (an entry's ``path`` never
    leads out of the index's folder) and a known status."""
    hint = "give the index.json that `paritybench run --workload all` wrote"
    data = read_json(path, "catalogue index", hint)
    if not isinstance(data, dict) or data.get("kind") != INDEX_KIND or not isinstance(data.get("workloads"), list):
        raise ParityError(f"{path} is not a catalogue index (kind {INDEX_KIND!r}): {hint}", exit_code=2)
    check_format(data, CATALOGUE_INDEX, "catalogue index", path)
    for i, e in enumerate(data["workloads"]):
        where = f"catalogue index {path}: workloads.{i}"
        if not isinstance(e, dict) or not isinstance(e.get("workload"), str) or "path" not in e:
            raise ParityError(f"{where} is not an entry with a workload name and a path: {hint}", exit_code=2)
        problem = confined_name_problem(
            Path(path), e["path"], "path", "the index", f"{e['workload']}.json", hint, "copy the artifact beside it"
        )
        if problem:
            raise ParityError(f"{where}: {problem}", exit_code=2)
        if e.get("status") not in INDEX_STATUSES:
            raise ParityError(
                f"{where}: status {e.get('status')!r} is not one of {', '.join(INDEX_STATUSES)}: {hint}", exit_code=2
            )
    return data


def is_index(path: str | Path) -> bool:
    """Whether ``path`` is a catalogue index (anything unreadable is left to the artifact checks)."""
    try:
        check_input_file(path, "input", "")  # a FIFO or a device would block or read without end
        data = json.loads(Path(path).read_text())
    except (ParityError, OSError, ValueError, RecursionError):  # left to the artifact checks' one-line errors
        return False
    return isinstance(data, dict) and data.get("kind") == INDEX_KIND
