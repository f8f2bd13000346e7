"""The conventions record of an artifact, read: which rows differ across arms, declared numbers the code
contradicts, the side-by-side table and the summary lines ``run`` prints. Reads records only; the rows are
collected from live arms by ``paritybench.pipeline.conventions``."""

from __future__ import annotations

import re
from typing import Any

from rich.table import Table

NOT_COMPARED_PREFIX = ("layer ", "initial weights", "implementation: ")
MISSING = "-"


def _canon(row: str, v) -> str:
    """The value compared: padding "SAME: (0, 1)" and Keras's "same" are one rule."""
    s = str(v)
    if "padding" in row:
        return s.split(":")[0].removesuffix(" (declared)").strip().lower()
    return s


def differing(table: dict[str, dict[str, Any]]) -> list[str]:
    """Rows whose values differ across arms (an arm without the row counts as a value), in first-seen order."""
    rows: list[str] = []
    for r in table.values():
        rows += [k for k in r if k not in rows]
    out = []
    for row in rows:
        if row.startswith(NOT_COMPARED_PREFIX) or row == "process":
            continue
        vals = {_canon(row, r.get(row, MISSING)) for r in table.values()}
        if len(vals) > 1:
            out.append(row)
    return out


def declaration_mismatches(table: dict[str, dict[str, Any]]) -> list[str]:
    """Declared numbers the code contradicts: each ``eps X`` / ``epsilon X`` declared in an arm's
    ``optimizer`` or ``epsilon`` row must be the optimizer's epsilon read from the code, and each
    ``+ X*w`` in its ``decay`` row the weight decay read from the code."""
    bad = []
    for arm, rows in table.items():
        for key, text in rows.items():
            if not key.startswith("declared: ") or not isinstance(text, str):
                continue
            what = key.removeprefix("declared: ")
            if what in ("optimizer",) and "optimizer.epsilon" in rows:
                for m in re.finditer(r"\beps(?:ilon)?\s*=?\s*([0-9.]+e-?[0-9]+|[0-9]*\.[0-9]+)", text):
                    if not _close(float(m.group(1)), rows["optimizer.epsilon"]):
                        bad.append(
                            f"{arm}: declared {what} says eps {m.group(1)}, the code uses {rows['optimizer.epsilon']}"
                        )
            if what == "decay" and rows.get("weight decay", "none") != "none" and rows.get("process") == "main":
                m = re.search(r"\+\s*([0-9.]+(?:e-?[0-9]+)?)\s*\*\s*w", text)
                code = float(str(rows["weight decay"]).split(" ")[0])
                if m and not _close(float(m.group(1)), code):
                    bad.append(f"{arm}: declared decay says + {m.group(1)}*w, the code adds {code:g}*w")
    return bad


def _close(a: float, b) -> bool:
    try:
        return abs(a - float(b)) <= 1e-6 * max(abs(a), 1e-30)
    except (TypeError, ValueError):
        return False


def render(console, rec: dict, only_differing: bool = False) -> None:
    """The side-by-side table (every row, or the differing ones)."""
    table = rec["arms"]
    names = list(table)
    rows: list[str] = []
    for r in table.values():
        rows += [k for k in r if k not in rows]
    diff = set(rec["differing"])
    t = Table(title="conventions" + (" that differ" if only_differing else ""), show_lines=False)
    t.add_column("setting")
    for n in names:
        t.add_column(n, overflow="fold")
    for row in rows:
        if only_differing and row not in diff:
            continue
        label = f"* {row}" if row in diff and not only_differing else row
        t.add_row(label, *[str(table[n].get(row, MISSING)) for n in names])
    console.print(t)


def summary_lines(rec: dict, width: int = 60) -> list[str]:
    """One line per differing row, arms grouped by value: what ``run`` prints above its table."""
    out = []
    for row in rec.get("differing", []):
        groups: dict[str, list[str]] = {}
        for arm, rows in rec["arms"].items():
            value = str(rows.get(row, MISSING))
            groups.setdefault(value if len(value) <= width else value[: width - 3] + "...", []).append(arm)
        out.append(f"{row}: " + "; ".join(f"{v} [{', '.join(arms)}]" for v, arms in groups.items()))
    return out
