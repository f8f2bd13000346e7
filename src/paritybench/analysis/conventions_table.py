"""The conventions record of an artifact, read: which rows differ across arms, declared numbers the code
contradicts, the side-by-side table and the summary lines ``run`` prints. Reads records only; the rows are
collected from live arms by ``paritybench.pipeline.conventions``."""

from __future__ import annotations

import re
from typing import Any

from rich.table import Table

# rows not compared by name; "layer " rows are compared by the layer's position instead (``layer_slots``)
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


def layer_slots(rows: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """Each ``layer <name> <key>`` row of one arm -> (the layer's position in the model, key).

    Keras names a layer after its class and a per-process counter (``dense``, ``dense_4``), so two arms built
    in one worker name the same layer differently: layer rows are matched across arms by position and key,
    never by name. The rows are written layer by layer in the model's order (``arms.keras_conventions``), so
    the position is the order in which a name first appears. Keys are config keys (one word) or ``dtype policy``."""
    names: list[str] = []
    out = {}
    for row in rows:
        if not row.startswith("layer "):
            continue
        rest = row.removeprefix("layer ")
        if rest.endswith(" dtype policy"):
            name, key = rest.removesuffix(" dtype policy"), "dtype policy"
        else:
            name, _, key = rest.rpartition(" ")
        if name not in names:
            names.append(name)
        out[row] = (names.index(name), key)
    return out


def value(table: dict[str, dict[str, Any]], arm: str, row: str) -> Any:
    """``arm``'s value of ``row``; for a layer row ``arm`` spells with another layer name, its value at the same
    position and key (``layer_slots``) as the first arm that has ``row``; ``MISSING`` where it has none."""
    rows = table[arm]
    if row in rows or not row.startswith("layer "):
        return rows.get(row, MISSING)
    owner = next((r for r in table.values() if row in r), None)
    if owner is None:
        return MISSING
    slot = layer_slots(owner)[row]
    return next((rows[r] for r, s in layer_slots(rows).items() if s == slot), MISSING)


def _differing_slots(table: dict[str, dict[str, Any]]) -> dict[tuple[int, str], list[str]]:
    """Layer positions and keys whose values differ across the arms that read layers (Keras's), each with its
    row names in first-seen order. Arms without layer rows (JAX, torch: their layers are not read) are left
    out here, so a Keras arm's layers are never marked for want of a JAX arm's."""
    slots = {arm: layer_slots(rows) for arm, rows in table.items()}
    slots = {arm: s for arm, s in slots.items() if s}
    if len(slots) < 2:
        return {}
    names: dict[tuple[int, str], list[str]] = {}
    for s in slots.values():
        for row, slot in s.items():
            names.setdefault(slot, [])
            if row not in names[slot]:
                names[slot].append(row)
    out = {}
    for slot, rows in names.items():
        vals = set()
        for arm, s in slots.items():
            row = next((r for r, sl in s.items() if sl == slot), None)
            vals.add(_canon(slot[1], MISSING if row is None else table[arm][row]))
        if len(vals) > 1:
            out[slot] = rows
    return out


def differing(table: dict[str, dict[str, Any]]) -> list[str]:
    """Rows whose values differ across arms (an arm without the row counts as a value), in first-seen order.
    Layer rows are compared by the layer's position and key (``layer_slots``): one row name per differing
    layer setting, the first arm's spelling, and none for layers that differ only by name."""
    rows: list[str] = []
    for r in table.values():
        rows += [k for k in r if k not in rows]
    layers = _differing_slots(table)
    marked = {names[0] for names in layers.values()}
    out = []
    for row in rows:
        if row.startswith("layer "):
            if row in marked:
                out.append(row)
            continue
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
    if not only_differing:  # every spelling of a differing layer setting (``layer_slots``) is marked
        diff |= {row for spelled in _differing_slots(table).values() for row in spelled}
    t = Table(title="conventions" + (" that differ" if only_differing else ""), show_lines=False)
    t.add_column("setting")
    for n in names:
        t.add_column(n, overflow="fold")
    for row in rows:
        if only_differing and row not in diff:
            continue
        label = f"* {row}" if row in diff and not only_differing else row
        if only_differing:  # one row per layer setting: each arm's value at that layer's position
            t.add_row(label, *[str(value(table, n, row)) for n in names])
        else:
            t.add_row(label, *[str(table[n].get(row, MISSING)) for n in names])
    console.print(t)


def summary_lines(rec: dict, width: int = 60) -> list[str]:
    """One line per differing row, arms grouped by value: what ``run`` prints above its table."""
    out = []
    for row in rec.get("differing", []):
        groups: dict[str, list[str]] = {}
        for arm in rec["arms"]:
            v = str(value(rec["arms"], arm, row))
            groups.setdefault(v if len(v) <= width else v[: width - 3] + "...", []).append(arm)
        out.append(f"{row}: " + "; ".join(f"{v} [{', '.join(arms)}]" for v, arms in groups.items()))
    return out
