"""Switching a Keras arm: its worker builds the model from the workload's ``keras_build``, so a switch cannot
replace a function of it as it does a JAX or torch arm's; it adds a ``KerasEdit`` to the arm's ``keras_edits``
instead (``workloads.base.KerasEdit``), which the worker applies to the built model, optimizer or loss
(``arms.keras_worker.edit_layers`` and ``edit_config``: ``from_config`` with the setting changed, every weight
copied).

What the Keras arm has now is read from its ``conventions`` rows (``arms.keras_conventions``: ``layer <name>
<key>`` per layer, ``optimizer.<key>``): a setting it does not have is refused here, before anything trains, and
one it has at the other arm's value already has nothing to change. An arm whose rows were not read is edited all
the same; its worker then refuses an edit no layer takes (one line, recorded as the switch's failure)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from paritybench.switches.base import Refusal, Target
from paritybench.workloads.base import Arm, KerasEdit


def layer_values(t: Target, key: str, other: bool = False) -> dict[str, Any]:
    """This arm's (``other``'s with other=True) ``layer <name> <key>`` rows: layer name -> value (empty where none,
    or its rows were not read)."""
    rows = t.rows_other if other else t.rows_self
    return {
        name[len("layer ") : -len(key) - 1]: v
        for name, v in rows.items()
        if name.startswith("layer ") and name.endswith(f" {key}")
    }


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return a == b


def layer(arm: Arm, t: Target, cls: str, key: str, value: Any, what: str) -> Arm:
    """``arm`` with every ``cls`` layer's ``key`` set to ``value``; refused where its rows show no layer with
    ``key`` (its model has no such layer), or every one of them at ``value`` already."""
    mine = layer_values(t, key)
    if t.rows_self and not mine:
        raise Refusal(f"{arm.name}'s Keras model has no layer with the setting {key} ({what}: a {cls} layer's)")
    if mine and all(_same(v, value) for v in mine.values()):
        raise Refusal(f"nothing to change: {arm.name}'s {what} is {value!r} already")
    return replace(arm, keras_edits=(*arm.keras_edits, KerasEdit("layer", cls, key, value)))


def optimizer(arm: Arm, t: Target, key: str, value: Any, what: str, cls: str | None = None) -> Arm:
    """``arm`` with its optimizer's ``key`` set to ``value`` (of class ``cls`` where given); refused where its
    rows show another class, no such key, or ``value`` already."""
    name = t.row("optimizer")
    if t.rows_self and cls is not None and name != cls:
        raise Refusal(f"{arm.name}'s optimizer is {name}, not {cls}: it has no {what} to switch")
    if t.rows_self and f"optimizer.{key}" not in t.rows_self:
        raise Refusal(f"{arm.name}'s optimizer ({name}) has no {key} setting")
    if f"optimizer.{key}" in t.rows_self and _same(t.rows_self[f"optimizer.{key}"], value):
        raise Refusal(f"nothing to change: {arm.name}'s {what} is {value!r} already")
    return replace(arm, keras_edits=(*arm.keras_edits, KerasEdit("optimizer", cls, key, value)))
