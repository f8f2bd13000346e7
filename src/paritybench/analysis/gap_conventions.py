"""The conventions beside the gap: for each arm of a run artifact, its final accuracy, its gap to the
reference, and the convention rows (``run`` records them in the artifact's ``conventions``) where that arm's
setting differs from the reference's.

Rows in which *every* other arm differs from the reference the same way (the reference's float64 dtype and
matmul precision) explain no arm's gap in particular: they are said once, under the table, rather than on
every row. Rows ``conventions.differing`` never compares (initial weights, the process) are left out here too,
and so are Keras's per-layer rows: ``differing`` matches them across Keras arms by the layer's position
(``conventions_table.layer_slots``), but the reference here is mostly an arm that reads no layers (a JAX
float64 arm), against which every layer row would differ. Values are compared as ``differing`` compares them
(``conventions._canon``: TensorFlow's "SAME: (0, 1)" and Keras's "same" are one padding rule).

An artifact without a conventions record (schema v1, or a v2 artifact from before ``run`` recorded them)
still gets the table, with its conventions column saying they were not recorded.
"""

from __future__ import annotations

from typing import Any

from paritybench.analysis.conventions_table import MISSING, NOT_COMPARED_PREFIX, _canon
from paritybench.artifact import reference_arm

WIDTH = 70  # one value in a table cell: enough for "added to sqrt(v) before bias correction (epsilon-hat)"


def _short(v: Any) -> str:
    s = str(v)
    if s.startswith("paritybench.workloads.") and ":" in s:  # a built-in's code reference: its module and name
        s = s.split(".")[-1]
    return s if len(s) <= WIDTH else s[: WIDTH - 3] + "..."


def _compared_rows(table: dict[str, dict[str, Any]]) -> list[str]:
    rows: list[str] = []
    for r in table.values():
        rows += [k for k in r if k not in rows]
    return [r for r in rows if not r.startswith(NOT_COMPARED_PREFIX) and r != "process"]


def _differs(row: str, a: Any, b: Any) -> bool:
    return _canon(row, a) != _canon(row, b)


def common_rows(conventions: dict, reference: str) -> list[str]:
    """Rows where every other arm differs from the reference (and there are at least two other arms, so that
    "every" means something): said once, not per arm."""
    table = conventions.get("arms") or {}
    if reference not in table:
        return []
    others = [a for a in table if a != reference]
    if len(others) < 2:
        return []
    ref = table[reference]
    return [
        row
        for row in _compared_rows(table)
        if all(_differs(row, table[a].get(row, MISSING), ref.get(row, MISSING)) for a in others)
    ]


def arm_rows(conventions: dict, arm: str, reference: str, skip: tuple[str, ...] = ()) -> list[str]:
    """ "row: arm's value vs reference's value" for each compared row where ``arm`` differs from ``reference``
    (rows in ``skip`` left out)."""
    table = conventions.get("arms") or {}
    if arm not in table or reference not in table:
        return []
    mine, ref = table[arm], table[reference]
    # a declaration the arm does not make (a Keras arm's settings are read, not declared) says nothing
    return [
        f"{row}: {_short(mine.get(row, MISSING))} vs {_short(ref.get(row, MISSING))}"
        for row in _compared_rows(table)
        if row not in skip
        and not (row.startswith("declared: ") and mine.get(row) in (None, MISSING))
        and _differs(row, mine.get(row, MISSING), ref.get(row, MISSING))
    ]


def _cell(s: str) -> str:
    """Markdown table cell text: a literal | would end the cell."""
    return s.replace("|", "\\|")


def gap_lines(a: dict, runs: dict[str, dict]) -> list[str]:
    """Markdown: one row per arm of ``runs`` (arm -> run record, the artifact's first case) with its final
    accuracy, its gap to the artifact's reference arm and the conventions where it differs from it; [] without
    a reference run."""
    reference = reference_arm(a)
    ref = runs.get(reference)
    if ref is None or ref.get("final_accuracy") is None:
        return []
    conv = a.get("conventions") or {}
    recorded = bool(conv.get("arms")) and reference in conv["arms"]
    common = common_rows(conv, reference) if recorded else []
    target = ref["final_accuracy"]
    md = [
        f"**Conventions beside the gap** (each arm's settings that differ from `{reference}`'s, as `run` read "
        "them before training):",
        "",
        f"| arm | final accuracy | gap vs `{reference}` | differs from `{reference}` in |",
        "| --- | --- | --- | --- |",
    ]
    for arm, r in runs.items():
        if arm == reference:
            continue
        acc = r.get("final_accuracy")
        gap = "-" if acc is None else f"{acc - target:+.3f}"
        if not recorded:
            diff = "-"
        elif arm not in conv["arms"]:
            diff = "not in the conventions record"
        else:
            diff = "; ".join(arm_rows(conv, arm, reference, skip=tuple(common))) or (
                "nothing beyond the rows under this table" if common else "nothing"
            )
        md.append(f"| `{arm}` | {'-' if acc is None else f'{acc:.3f}'} | {gap} | {_cell(diff)} |")
    if not recorded:
        md += [
            "",
            "This artifact records no conventions (it was written before `run` recorded them): run it again "
            "to see which settings part each arm.",
        ]
    if common:
        ref_rows = conv["arms"][reference]
        md += [
            "",
            f"Every other arm differs from `{reference}` in: "
            + "; ".join(f"{row} ({_short(ref_rows.get(row, '-'))} in `{reference}`)" for row in common)
            + ".",
        ]
    return md + [""]
