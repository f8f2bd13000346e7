"""The record ``paritybench explain --out`` writes, read for the report: detected by ``"kind": "explain"``
(as a localize record by ``"kind": "localize"``), its ``format_version`` checked as every versioned file's
is (``paritybench.artifact.formats``), its shape checked by a JSON schema (``jsonschema``, which validates
the artifacts too) before anything is written.

The keys are the shared contract of the ``explain`` and ``report`` commands (format 1.0): a record of 1.0
with a key the contract does not name is refused, so that a field is never silently left out of the
report; a later minor (1.1, ...) may add keys, which this reader then skips, as ``formats`` promises.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from paritybench.artifact.formats import EXPLAIN_RECORD, check_format
from paritybench.artifact.inputs import read_json
from paritybench.errors import ParityError

HINT = "give the file paritybench explain --out wrote"
FAMILIES = ("optimizer", "normalisation", "loss", "layer arithmetic", "numerics", "data order")

# a ratio to the noise floor: a number, null (infinite: one side non-finite, as localize writes it), or
# paritybench's spelling of a non-finite number ("inf", "nan": ``paritybench.artifact.num``)
_RATIO: dict[str, Any] = {"anyOf": [{"type": "number"}, {"type": "null"}, {"enum": ["inf", "-inf", "nan"]}]}
_TEXT: dict[str, Any] = {"type": "string"}
_TEXT_OR_NULL: dict[str, Any] = {"type": ["string", "null"]}


def _obj(props: dict[str, Any], required: tuple[str, ...] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": props,
        "required": list(props if required is None else required),
    }


def schema(strict: bool = True) -> dict[str, Any]:
    """The record's JSON schema; ``strict`` (format 1.0) refuses keys the contract does not name."""
    parted = _obj(
        {
            "step": {"type": "integer", "minimum": 0},
            "phase": _TEXT,
            "tensor": _TEXT,
            "ratio": _RATIO,
            "detail": _TEXT,  # localize's first parting carries it: the one optional key
        },
        required=("step", "phase", "tensor", "ratio"),
    )
    switch = _obj(
        {
            "name": _TEXT,
            "family": {"enum": list(FAMILIES)},
            "demonstrated_by": _TEXT_OR_NULL,
            "applied_to": _TEXT_OR_NULL,  # null where the switch was refused: it changed no arm
            "rows": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": ["string", "null"]}},
            },
            "ratio_before": _RATIO,
            "ratio_after": _RATIO,
            "closes": {"type": "boolean"},
            "refused": _TEXT_OR_NULL,
        }
    )
    combination = _obj(
        {
            "names": {"type": "array", "items": _TEXT, "minItems": 1},
            "ratio_after": _RATIO,
            "closes": {"type": "boolean"},
        }
    )
    pair = _obj(
        {
            "a": _TEXT,
            "b": _TEXT,
            "parted": {"anyOf": [{"type": "null"}, parted]},
            "verdict": _TEXT,
            "switches": {"type": "array", "items": switch},
            "combination": {"anyOf": [{"type": "null"}, combination]},
        }
    )
    top = _obj(
        {
            "format_version": _TEXT,
            "kind": {"const": "explain"},
            "workload": _TEXT,
            "factor": {"type": "number", "exclusiveMinimum": 0},
            "pairs": {"type": "array", "items": pair},
        }
    )
    if strict:
        for s in (parted, switch, combination, pair, top):
            s["additionalProperties"] = False
    return top


def problem(record: Any) -> str | None:
    """The first thing in ``record`` (format checked) that this reader cannot take, as ``where: what``."""
    import jsonschema  # late: jsonschema (a slow import): loaded only where a record is validated

    strict = str(record.get("format_version", "")) == EXPLAIN_RECORD if isinstance(record, dict) else True
    err = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema(strict)).iter_errors(record))
    if err is None:
        return None
    where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
    msg = err.message if len(err.message) <= 160 else err.message[:157] + "..."
    return f"{where}: {msg}"


def load(path: str | os.PathLike) -> dict:
    """An explain record from ``path``, checked whole (format major, then shape), or a one-line ParityError."""
    record = read_json(path, what="explain record", hint=HINT)
    if not isinstance(record, dict) or record.get("kind") != "explain":
        raise ParityError(f"{path}: not an explain record (no kind 'explain'): {HINT}", exit_code=2)
    if "format_version" not in record:  # the contract's first key: an explain record was never unversioned
        raise ParityError(f"{path}: explain record without format_version: {HINT}", exit_code=2)
    check_format(record, EXPLAIN_RECORD, "explain record", path)
    bad = problem(record)
    if bad:
        raise ParityError(f"{path}: not an explain record this paritybench reads ({bad}): {HINT}", exit_code=2)
    return record


def is_explain_record(path: str | os.PathLike) -> bool:
    """True when ``path`` is a JSON object of kind ``explain`` (read cheaply; the real checks come in ``load``)."""
    try:
        a = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError):  # left to the artifact checks' one-line errors
        return False
    return isinstance(a, dict) and a.get("kind") == "explain"


def _ratio(x: Any) -> str:
    if x is None or isinstance(x, str):
        return "non-finite"
    return f"{x:.3g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def named_cause(pair: dict) -> tuple[str, str]:
    """One pair's answer in a table cell: (the switch explain names, or why none; the ratio to the noise floor
    before -> after). The first closing switch of the ranked list, or, where its switched pair parted again later
    and a second switch closed that over the whole run, the two (``together``, the ratio after over the whole run);
    else a closing combination (two or three switches, ``together``); else the best applicable one, said not to
    close where it reduced the gap, or "none closes or reduces it"; a pair refused before training, its refusal."""
    if pair["parted"] is None:  # refused before anything trained (random masks that cannot match), or no parting
        return (pair["verdict"] if pair["verdict"].startswith("refused") else "does not part: nothing to explain"), "-"
    switches = pair["switches"]
    top = next((s for s in switches if s["closes"]), None)
    both = pair.get("combination")
    if top is None and both is not None and both["closes"]:  # no one switch closes, two or three together do
        first = next(s for s in switches if s["refused"] is None)
        names = " + ".join(both["names"]) + " (together)"
        return names, f"{_ratio(first['ratio_before'])} -> {_ratio(both['ratio_after'])}"
    if top is not None and both is not None and both["closes"] and both["names"][0] == top["name"]:
        names = " + ".join(both["names"]) + " (together)"
        return names, f"{_ratio(top['ratio_before'])} -> {_ratio(both['ratio_after'])}"
    top = top or next((s for s in switches if s["refused"] is None), None)
    if top is None:
        return "none applies", "-"
    before, after = top["ratio_before"], top["ratio_after"]
    reduced = isinstance(after, (int, float)) and (not isinstance(before, (int, float)) or after < before)
    if not top["closes"] and not reduced:
        return "none closes or reduces it", _ratio(before)
    return top["name"] + ("" if top["closes"] else " (does not close)"), f"{_ratio(before)} -> {_ratio(after)}"
