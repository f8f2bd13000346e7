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
    if row == "optimizer":  # torch.optim.SGD and Keras's SGD (a JAX arm's w - lr*g is said as "SGD") are one name
        return s.removeprefix("torch.optim.")
    if row == "weight decay":
        # "0.01 x w, decoupled (added to the update)" (Keras, torch AdamW: w -= lr*wd*w) and optax.adamw's
        # "(added after the optimizer's scaling)" are one rule: the words in brackets say where, not what
        return re.sub(r"\s*\([^)]*\)", "", s)
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


_NUMBER = r"([0-9]*\.?[0-9]+(?:e-?[0-9]+)?)"
# words a declaration uses for where an optimizer's epsilon sits -> what the code's placement row then says
_PLACEMENT_WORDS = (
    (("epsilon-hat", "before bias correction", "uncorrected sqrt(v)"), "before bias correction"),
    (("bias-corrected", "after bias correction", "sqrt(v_hat)"), "after bias correction"),
)


def declaration_mismatches(table: dict[str, dict[str, Any]]) -> list[str]:
    """Declared rows the code contradicts, where the code's rows can say: each ``eps X`` / ``epsilon X``
    declared for the optimizer (an ``optimizer`` row, or an ``epsilon`` row about sqrt(v)) against the
    optimizer's epsilon; where a declaration puts the optimizer's epsilon (before or after the bias
    correction) against the placement read from the code; each ``+ X*w`` in a ``decay`` row against the
    weight decay; a layer ``epsilon`` or ``momentum X`` (a moving average) against the layers' own settings
    where the code reads them (Keras); a ``dtype`` against the dtype."""
    bad = []
    for arm, rows in table.items():
        layer = {
            key: [v for k, v in rows.items() if k.startswith("layer ") and k.endswith(f" {key}")]
            for key in ("epsilon", "momentum")
        }
        for key, text in rows.items():
            if not key.startswith("declared: ") or not isinstance(text, str):
                continue
            what = key.removeprefix("declared: ")
            about_optimizer = what == "optimizer" or (what == "epsilon" and "sqrt" in text)
            if about_optimizer and "optimizer.epsilon" in rows:
                for m in re.finditer(r"\beps(?:ilon)?\s*=?\s*([0-9.]+e-?[0-9]+|[0-9]*\.[0-9]+)", text):
                    if not _close(float(m.group(1)), rows["optimizer.epsilon"]):
                        bad.append(
                            f"{arm}: declared {what} says eps {m.group(1)}, the code uses {rows['optimizer.epsilon']}"
                        )
            place = str(rows.get("optimizer.epsilon placement", ""))
            if about_optimizer and "bias correction" in place:
                for words, says in _PLACEMENT_WORDS:
                    if any(w in text for w in words) and says not in place:
                        bad.append(f"{arm}: declared {what} says epsilon {says}, the code adds it {place}")
                        break
            if what == "epsilon" and not about_optimizer and layer["epsilon"]:
                for m in re.finditer(_NUMBER, text):
                    if not any(_close(float(m.group(1)), v) for v in layer["epsilon"]):
                        got = ", ".join(f"{v:g}" for v in layer["epsilon"])
                        bad.append(f"{arm}: declared epsilon {m.group(1)}, the layers use {got}")
            if what == "moving average" and layer["momentum"]:
                for m in re.finditer(r"momentum\s+" + _NUMBER, text):
                    if not any(_close(float(m.group(1)), v) for v in layer["momentum"]):
                        got = ", ".join(f"{v:g}" for v in layer["momentum"])
                        bad.append(f"{arm}: declared moving average says momentum {m.group(1)}, the layers use {got}")
            if what == "dtype" and "dtype" in rows and str(rows["dtype"]).split()[0] != text.split()[0]:
                bad.append(f"{arm}: declared dtype {text}, the code runs {rows['dtype']}")
            if what == "decay" and rows.get("weight decay", "none") != "none":
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
