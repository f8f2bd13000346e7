"""What a switch is: one convention of an arm changed to the other arm's value, declared once.

A ``Switch`` names the convention (``name``), its ``family`` (optimizer, normalisation, loss, layer arithmetic,
numerics, data order), the ``conventions`` rows that show it (``pipeline.conventions.collect``'s rows;
``declared: <row>`` is read too), the catalogue workload that demonstrates it (``demonstrated_by``) and, per
kind of arm (``Kind.switch_kind()``: ``jax``, ``f64``, ``torch``, ``keras``), an *applier*
``(arm, Target) -> Arm``: ``arm`` with that one convention changed to ``Target.other``'s, as a
``dataclasses.replace``d copy, or a ``Refusal`` with the reason it cannot be done. A kind without an applier
is refused with ``refusals[kind]`` (or a generic reason). ``paritybench explain`` (``pipeline.explain``)
tries every switch of the registry (``switches.SWITCHES``) on every parting pair.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.workloads.base import Arm, Workload

FAMILIES = ("optimizer", "normalisation", "loss", "layer arithmetic", "numerics", "data order")


class Refusal(Exception):
    """A switch that cannot be applied to this arm: ``str(exc)`` is the reason, one line."""


@dataclass(frozen=True)
class Target:
    """What an applier may read: the workload, the arm it switches towards (``other``), both arms'
    ``conventions`` rows (empty for an arm whose rows were not read), the learning rate, a few training samples
    (``x``, ``y``: the window's first rows, for probing a function's shapes or its state update) and the shared
    initial weights and model state; ``batches_for`` (``localize.Context.batches_for``, where explain runs) gives
    the rows an arm trains each step on."""

    workload: Workload
    other: Arm
    rows_self: Mapping[str, Any]
    rows_other: Mapping[str, Any]
    lr: float
    x: np.ndarray
    y: np.ndarray
    init: Mapping[str, np.ndarray]
    state: Mapping[str, np.ndarray] = field(default_factory=dict)
    batches_for: Callable[[Arm], Any] | None = None

    def row(self, name: str, other: bool = False) -> Any:
        """Row ``name`` of this arm (of ``other`` with other=True): the code's reading, else the declaration's;
        None where neither has it."""
        rows = self.rows_other if other else self.rows_self
        return rows.get(name, rows.get(f"declared: {name}"))

    def other_kind(self) -> str:
        return kind_of(self.other).switch_kind()


Applier = Callable[[Arm, Target], Arm]


@dataclass(frozen=True)
class Switch:
    """One convention, and how to change it on each kind of arm."""

    name: str
    family: str
    description: str
    rows: tuple[str, ...]
    demonstrated_by: str | None
    appliers: Mapping[str, Applier]
    refusals: Mapping[str, str] = field(default_factory=dict)
    # a switch that changes several settings at once (another arm's whole forward pass): where it closes a gap
    # beside a narrow one, the narrow one is ranked first (it names the convention; the broad one only agrees)
    broad: bool = False

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"switch {self.name}: family {self.family!r} is not one of {', '.join(FAMILIES)}")

    def apply(self, arm: Arm, target: Target) -> Arm:
        """``arm`` with this convention switched to ``target.other``'s, renamed ``<arm>+<switch>``; a
        ``Refusal`` where it cannot be, or where nothing would change."""
        kind = kind_of(arm).switch_kind()
        applier = self.appliers.get(kind)
        if applier is None:
            raise Refusal(self.refusals.get(kind, f"{self.name} has no applier for a {kind} arm"))
        switched = applier(arm, target)
        if switched == arm:
            raise Refusal(f"nothing to change: {arm.name} already has {target.other.name}'s {self.name}")
        return switched

    def row_values(self, rows_a: Mapping[str, Any], rows_b: Mapping[str, Any]) -> dict[str, list]:
        """The rows this switch reads that either arm has (code's or declared), as [value on a, value on b]."""
        out: dict[str, list] = {}
        for r in self.rows:
            for key in (r, f"declared: {r}"):
                if key in rows_a or key in rows_b:
                    out[key] = [_text(rows_a.get(key)), _text(rows_b.get(key))]
        return out

    def suggested(self, rows_a: Mapping[str, Any], rows_b: Mapping[str, Any]) -> bool:
        """Whether the conventions point at this switch: one of its rows differs between the arms."""
        return any(a != b for a, b in self.row_values(rows_a, rows_b).values())


def _text(v: Any) -> str | None:
    return None if v is None else str(v)


_WD = re.compile(r"^([0-9.eE+-]+) x w, (coupled|decoupled)")


def weight_decay(row: Any) -> tuple[float, str] | None:
    """``conventions``' "weight decay" row as (coefficient, "coupled"|"decoupled"); (0, "none") for "none";
    None where the row is missing or reads otherwise."""
    if row == "none":
        return 0.0, "none"
    m = _WD.match(str(row or ""))
    return (float(m.group(1)), m.group(2)) if m else None


def _bindings(apply, own) -> list[tuple[Any, str, Any]]:
    """Where ``apply`` reaches ``own`` other than through its module: a global of ``apply``'s module or a cell of
    its closure that is ``own`` (``from jax.nn import gelu``) or a ``functools.partial`` of it
    (``partial(jax.nn.leaky_relu, negative_slope=0.3)``, bound at import), as (holder, key, value)."""
    found: list[tuple[Any, str, Any]] = []
    for key, v in getattr(apply, "__globals__", {}).items():
        if v is own or (isinstance(v, functools.partial) and v.func is own):
            found.append((apply.__globals__, key, v))
    for cell in getattr(apply, "__closure__", None) or ():
        with contextlib.suppress(ValueError):  # an empty cell
            v = cell.cell_contents
            if v is own or (isinstance(v, functools.partial) and v.func is own):
                found.append((cell, "cell_contents", v))
    return found


def _set(holder, key: str, value) -> None:
    if isinstance(holder, dict):
        holder[key] = value
    else:
        setattr(holder, key, value)


@contextlib.contextmanager
def patched(module, name: str, fn, apply=None) -> Iterator[None]:
    """``module.<name>`` replaced by ``fn`` and, where ``apply`` bound the function before (``_bindings``),
    those bindings too (a partial keeps its arguments, around ``fn``)."""
    own = getattr(module, name)
    bound = _bindings(apply, own) if apply is not None else []
    setattr(module, name, fn)
    for holder, key, v in bound:
        _set(holder, key, fn if v is own else functools.partial(fn, *v.args, **v.keywords))
    try:
        yield
    finally:
        setattr(module, name, own)
        for holder, key, v in bound:
            _set(holder, key, v)


def probe_inputs(framework: str, t: Target, rows: int = 8) -> tuple[dict[str, Any], Any, dict[str, Any]]:
    """What a probe hands ``t``'s forward pass in ``framework`` ("torch", else JAX): the initial weights, the
    first ``rows`` inputs (float32) and the model state, as that framework's arrays (torch's cast to float32,
    as its arms train them; JAX's in their own dtype)."""
    x = np.asarray(t.x[:rows], np.float32)
    array: Callable[[Any], Any]
    if framework == "torch":
        import torch  # late: a framework: loads after the numerics flags

        def array(v: Any) -> Any:
            return torch.from_numpy(np.asarray(v, np.float32))
    else:
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags

        array = jnp.asarray
    return {k: array(v) for k, v in t.init.items()}, array(x), {k: array(v) for k, v in t.state.items()}


def probe_forward(apply: Callable[..., Any], framework: str, t: Target, rows: int = 8) -> Any:
    """``apply`` (a forward pass in ``framework``) on ``probe_inputs``: with the model state, in training mode,
    where the workload keeps one (``apply(params, x, state, training)``), else ``apply(params, x)``."""
    p, xs, st = probe_inputs(framework, t, rows)
    return apply(p, xs, st, True) if t.state else apply(p, xs)
