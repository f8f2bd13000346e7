"""Automatic weight mapping between two adapters' parameter tables (NumPy only, no framework import).

A *parameter table* lists a model's weights in the user's order: for each, the framework, the user's own layer
name, the layer's type (``dense``, ``conv2d``, ``lstm``, ...), the variable's role (``kernel``, ``bias``,
``gamma``, ``moving_mean``, ``recurrent_kernel``, ...), its full name in that framework, shape and dtype. The
readers (``keras_params``, ``torch_params``, ``jax_params``) build one from a model; :func:`plan` maps a source
table onto a target table:

1. layers with weights are paired by order (a count or a type that differs is a one-line error);
2. within a pair, variables are paired by role, and each pair gets the layout rule of its layer type between
   the two frameworks' layout families (``layouts``: transposes, convolution axes, LSTM/GRU gates and biases,
   the Dense after a Flatten); layers of a type without a rule pair variables by role name, or by order when
   the names differ and the shapes leave no doubt;
3. the user's overrides win: ``overrides={target name: source name or names}``, ``transforms={target name:
   transform spec}`` (e.g. ``"identity"`` to reproduce a literal port), ``ignore=[layer or variable names]``;
4. every target shape is checked against the transform of its sources before any weight moves.

The result is a :class:`WeightMap`: its rows (target, sources, transform), printable as a table, serialisable
to JSON for the artifact, and applied to arrays by :meth:`WeightMap.apply`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from rich.table import Table

from paritybench.errors import ParityError

from . import layouts

# The two layout families (layouts' docstring): channels-last (Keras 3, JAX/flax) and channels-first (torch, and
# equinox's ``equinox.nn`` layers: a JAX library laid out as torch is).
FAMILY = {"keras": "channels_last", "jax": "channels_last", "torch": "channels_first", "equinox": "channels_first"}

# torch's BatchNorm counter: no Keras or flax twin, read by torch only with momentum=None (layouts' docstring).
NO_TWIN_ROLES = frozenset({"num_batches_tracked"})


def _known_fields(what: str, d: Mapping[str, Any], known: set[str]) -> None:
    """A field that is not understood is refused, never ignored."""
    unknown = sorted(set(d) - known)
    if unknown:
        raise ParityError(f"weight mapping: {what} has unknown fields {unknown}; its fields are {sorted(known)}")


@dataclass(frozen=True)
class Param:
    """One weight of a model, as a reader found it.

    ``flatten_from`` is set on a dense layer's kernel that follows a Flatten of a feature map: the map's shape
    without the batch axis, in this framework's own order (Keras ``(H, W, C)``, torch ``(C, H, W)``).
    """

    framework: str
    layer: str
    layer_type: str
    role: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    flatten_from: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        if self.framework not in FAMILY:
            raise ParityError(
                f"weight mapping: unknown framework {self.framework!r} for {self.name!r}; use one of {sorted(FAMILY)}"
            )

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "framework": self.framework,
            "layer": self.layer,
            "layer_type": self.layer_type,
            "role": self.role,
            "name": self.name,
            "shape": list(self.shape),
            "dtype": self.dtype,
        }
        if self.flatten_from is not None:
            d["flatten_from"] = list(self.flatten_from)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Param:
        fields = {"framework", "layer", "layer_type", "role", "name", "shape", "dtype", "flatten_from"}
        _known_fields("a parameter record", d, fields)
        ff = d.get("flatten_from")
        return cls(
            framework=str(d["framework"]),
            layer=str(d["layer"]),
            layer_type=str(d["layer_type"]),
            role=str(d["role"]),
            name=str(d["name"]),
            shape=tuple(int(x) for x in d["shape"]),
            dtype=str(d["dtype"]),
            flatten_from=None if ff is None else tuple(int(x) for x in ff),
        )

    def label(self) -> str:
        return f"{self.framework} {self.name!r} {self.shape}"


@dataclass(frozen=True)
class Row:
    """One target weight: the source weights it is computed from, the transform spec, and how it was chosen."""

    target: Param
    sources: tuple[Param, ...]
    transform: str
    by: str = "auto"  # "auto" (the rules) or "override" (the user's map)

    def to_json(self) -> dict[str, Any]:
        return {
            "target": self.target.to_json(),
            "sources": [s.to_json() for s in self.sources],
            "transform": self.transform,
            "by": self.by,
        }


@dataclass(frozen=True)
class WeightMap:
    """The mapping from a source table to a target table (:func:`plan` builds it)."""

    rows: tuple[Row, ...]
    unused: tuple[Param, ...] = field(default=())  # source weights with no target (torch's num_batches_tracked)

    def apply(self, arrays: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """The target arrays, by target name, from the source arrays, by source name.

        Every source is checked for presence and shape first; the results are cast to the target's dtype. Rows
        whose transform is ``keep`` are left out: the target keeps its own value.
        """
        for row in self.rows:
            for s in row.sources:
                if s.name not in arrays:
                    raise ParityError(
                        f"weight mapping: source weight {s.label()} is missing from the arrays given; "
                        "pass the source model's weights"
                    )
                got = tuple(np.shape(arrays[s.name]))
                if got != s.shape:
                    raise ParityError(
                        f"weight mapping: source weight {s.label()} was given with shape {got}; "
                        "read the table from the same model"
                    )
        out: dict[str, np.ndarray] = {}
        for row in self.rows:
            if row.transform == "keep":
                continue
            try:
                dtype = np.dtype(row.target.dtype)
            except TypeError:
                raise ParityError(
                    f"weight mapping: target {row.target.label()} has dtype {row.target.dtype}, which NumPy does "
                    f"not know; map into a float32 copy of the model and cast it in the framework"
                ) from None
            value = layouts.apply(row.transform, [np.asarray(arrays[s.name]) for s in row.sources], row.target.shape)
            out[row.target.name] = np.ascontiguousarray(value, dtype=dtype)
        return out

    def to_json(self) -> dict[str, Any]:
        return {"rows": [r.to_json() for r in self.rows], "unused": [p.to_json() for p in self.unused]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> WeightMap:
        _known_fields("a weight map", d, {"rows", "unused"})
        for r in d["rows"]:
            _known_fields("a weight map row", r, {"target", "sources", "transform", "by"})
        rows = tuple(
            Row(
                target=Param.from_json(r["target"]),
                sources=tuple(Param.from_json(s) for s in r["sources"]),
                transform=str(r["transform"]),
                by=str(r["by"]),
            )
            for r in d["rows"]
        )
        for r in rows:
            layouts.parse(r.transform)
        return cls(rows=rows, unused=tuple(Param.from_json(p) for p in d.get("unused", ())))

    def table_rows(self) -> list[tuple[str, str, str, str, str]]:
        """(source names, source shapes, target name, target shape, transform) per row, then the unused sources."""
        out = [
            (
                " + ".join(s.name for s in r.sources) or "-",
                " + ".join(str(s.shape) for s in r.sources) or "-",
                r.target.name,
                str(r.target.shape),
                r.transform + (" (override)" if r.by == "override" else ""),
            )
            for r in self.rows
        ]
        out += [(p.name, str(p.shape), "-", "-", "unused (no twin)") for p in self.unused]
        return out

    def text(self) -> str:
        """The mapping as a plain-text table, one row per target weight."""
        header = ("source", "shape", "target", "shape", "transform")
        rows = [header, *self.table_rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def rich_table(self) -> Table:
        """The mapping as a rich Table (for the console)."""
        source = self.rows[0].sources[0].framework if self.rows and self.rows[0].sources else "source"
        target = self.rows[0].target.framework if self.rows else "target"
        table = Table(title=f"weight mapping {source} -> {target}")
        for col in (f"{source} weight", "shape", f"{target} weight", "shape", "transform"):
            table.add_column(col)
        for r in self.table_rows():
            table.add_row(*r)
        return table


# --------------------------------------------------------------------------------------- the rules per layer type


def _layers(table: Sequence[Param]) -> list[tuple[str, list[Param]]]:
    """The table's layers in its order: consecutive weights with the same layer name."""
    out: list[tuple[str, list[Param]]] = []
    for p in table:
        if out and out[-1][0] == p.layer:
            out[-1][1].append(p)
        else:
            if any(name == p.layer for name, _ in out):
                raise ParityError(
                    f"weight mapping: the {p.framework} table lists layer {p.layer!r} in two places; "
                    "a reader lists each layer's weights together"
                )
            out.append((p.layer, [p]))
    return out


def _by_role(params: Sequence[Param]) -> dict[str, Param]:
    return {p.role: p for p in params}


def _flatten_before(src: Param, tgt: Param) -> tuple[int, ...] | None:
    """The feature shape before the Flatten that feeds this dense kernel, in the source's order, if either side
    knows it and it had more than one axis (a Flatten of an (N, F) input changes nothing)."""
    from_target = None
    if tgt.flatten_from is not None:
        t = tgt.flatten_from
        # the target's order in the source's: (C, *spatial) <-> (*spatial, C)
        from_target = (*t[1:], t[0]) if FAMILY[tgt.framework] == "channels_first" else (t[-1], *t[:-1])
    if src.flatten_from is not None and from_target is not None and src.flatten_from != from_target:
        raise ParityError(
            f"weight mapping: {src.label()} follows a Flatten of {src.flatten_from}, {tgt.label()} one of "
            f"{tgt.flatten_from}: the feature maps differ; {_fix_hint(tgt.name)}"
        )
    before = src.flatten_from if src.flatten_from is not None else from_target
    return before if before is not None and len(before) > 1 else None


def _role_transform(layer_type: str, role: str, src: Param, tgt: Param, crossing: str) -> str:
    """The transform of one weight of a known layer type; ``crossing`` is "to_cf", "from_cf" or "same"."""
    if crossing == "same":
        return "identity"
    to_cf = crossing == "to_cf"
    if layer_type == "dense" and role == "kernel":
        before = _flatten_before(src, tgt)
        if before is not None:
            return layouts.spec("flatten_to_channels_first" if to_cf else "flatten_from_channels_first", *before)
        return "transpose"
    if layer_type in ("conv1d", "conv2d", "conv3d") and role == "kernel":
        return "hwio_to_oihw" if to_cf else "oihw_to_hwio"
    if layer_type in ("conv1d", "conv2d", "conv3d") and role == "bias" and src.shape != tgt.shape:
        return "reshape"  # equinox's conv bias (C, 1, ..., 1) (layouts' docstring); the shape check sees the size
    if layer_type == "lstm" and role in ("kernel", "recurrent_kernel"):
        return "transpose"  # gate orders agree: Keras i,f,c,o is torch i,f,g,o (layouts' docstring)
    if layer_type == "gru" and role in ("kernel", "recurrent_kernel"):
        return "gru_kernel_to_torch" if to_cf else "gru_kernel_from_torch"
    return "identity"


# The layer types with a rule. Their roles pair one to one except the recurrent biases (_recurrent_rows).
KNOWN_TYPES = frozenset({"dense", "conv1d", "conv2d", "conv3d", "embedding", "batchnorm", "layernorm", "lstm", "gru"})


def _recurrent_rows(
    layer_type: str, src: dict[str, Param], tgt: dict[str, Param], crossing: str
) -> tuple[list[Row], set[str]]:
    """The bias rows of an LSTM or GRU between Keras/JAX (one bias) and torch (b_ih as ``bias``, b_hh as
    ``recurrent_bias``); the roles they consume on the source side."""
    rows: list[Row] = []
    if crossing == "to_cf" and "bias" in src:
        b = src["bias"]
        if layer_type == "gru":
            if len(b.shape) != 2:
                raise ParityError(
                    f"weight mapping: {b.label()} is a GRU bias of reset_after=False, which torch's GRU cannot express "
                    f"(it resets after the recurrent matmul); build the Keras GRU with reset_after=True"
                )
            if "bias" in tgt:
                rows.append(Row(tgt["bias"], (b,), "gru_input_bias_to_torch"))
            if "recurrent_bias" in tgt:
                rows.append(Row(tgt["recurrent_bias"], (b,), "gru_recurrent_bias_to_torch"))
        else:
            if "bias" in tgt:
                rows.append(Row(tgt["bias"], (b,), "identity"))
            if "recurrent_bias" in tgt:
                rows.append(Row(tgt["recurrent_bias"], (), "zeros"))
        # a bias that no target took stays unused, and so an error (a torch RNN built with bias=False)
        return rows, ({"bias"} if any(r.sources for r in rows) else set())
    if crossing == "from_cf" and "bias" in tgt and {"bias", "recurrent_bias"} <= set(src):
        if layer_type == "gru" and len(tgt["bias"].shape) != 2:
            raise ParityError(
                f"weight mapping: {tgt['bias'].label()} is a GRU bias of reset_after=False, which torch's GRU "
                f"cannot express (it resets after the recurrent matmul); build the Keras GRU with reset_after=True"
            )
        how = "gru_bias_from_torch" if layer_type == "gru" else "sum"
        rows.append(Row(tgt["bias"], (src["bias"], src["recurrent_bias"]), how))
        return rows, {"bias", "recurrent_bias"}
    return rows, set()


def _fix_hint(target: str) -> str:
    return (
        f"map it by hand: overrides={{{target!r}: SOURCE_NAME}} (and transforms={{{target!r}: SPEC}}), or ignore=[NAME]"
    )


def _layer_rows(src_layer: list[Param], tgt_layer: list[Param]) -> tuple[list[Row], list[Param]]:
    """The rows of one paired layer and the source weights it leaves unused."""
    s0, t0 = src_layer[0], tgt_layer[0]
    fs, ft = FAMILY[s0.framework], FAMILY[t0.framework]
    crossing = "same" if fs == ft else ("to_cf" if ft == "channels_first" else "from_cf")
    src, tgt = _by_role(src_layer), _by_role(tgt_layer)
    rows: list[Row] = []
    used: set[str] = set()
    unique_roles = len(src) == len(src_layer) and len(tgt) == len(tgt_layer)
    if s0.layer_type in KNOWN_TYPES and unique_roles:
        if s0.layer_type in ("lstm", "gru") and crossing != "same":
            rows, used = _recurrent_rows(s0.layer_type, src, tgt, crossing)
        done = {r.target.role for r in rows}
        for role, t in tgt.items():
            if role in done:
                continue
            if role in NO_TWIN_ROLES and role not in src:
                rows.append(Row(t, (), "keep"))
                continue
            if role not in src:
                raise ParityError(
                    f"weight mapping: {t.label()} has no {role!r} in {s0.framework} layer {s0.layer!r} "
                    f"(roles {sorted(src)}): build both layers alike (a bias on both sides?) or {_fix_hint(t.name)}"
                )
            rows.append(Row(t, (src[role],), _role_transform(s0.layer_type, role, src[role], t, crossing)))
            used.add(role)
    elif unique_roles and set(src) == set(tgt):
        rows = [Row(t, (src[role],), "identity") for role, t in tgt.items()]
        used = set(src)
    else:
        # A layer type without a rule whose variable names differ: by order, if the shapes leave no doubt.
        shapes = [p.shape for p in tgt_layer]
        if len(src_layer) != len(tgt_layer) or len(set(shapes)) != len(shapes):
            raise ParityError(
                f"weight mapping: ambiguous: {s0.framework} layer {s0.layer!r} ({s0.layer_type}: "
                f"{', '.join(p.role for p in src_layer)}) and {t0.framework} layer {t0.layer!r} "
                f"({', '.join(p.role for p in tgt_layer)}) name their weights differently and their shapes do not "
                f"tell them apart; {_fix_hint(tgt_layer[0].name)}"
            )
        rows = [Row(t, (s,), "identity") for s, t in zip(src_layer, tgt_layer, strict=True)]
        used = set(src)
    unused = [p for p in src_layer if p.role not in used]
    return rows, unused


def _default_transform(sources: Sequence[Param], target: Param) -> str:
    """An override without a transform: identity where the shape agrees, transpose where a matrix's does."""
    if len(sources) == 1:
        s = sources[0].shape
        if s == target.shape:
            return "identity"
        if len(s) == 2 and s[::-1] == target.shape:
            return "transpose"
    names = " + ".join(repr(s.name) for s in sources)
    raise ParityError(
        f"weight mapping: override {target.name!r} <- {names} needs a transform (shapes "
        f"{[s.shape for s in sources]} -> {target.shape}); give it: transforms={{{target.name!r}: SPEC}}"
    )


def _check_names(kind: str, names: Iterable[str], known: set[str], side: str) -> None:
    for n in names:
        if n not in known:
            shown = ", ".join(sorted(known)[:12]) + (", ..." if len(known) > 12 else "")
            raise ParityError(
                f"weight mapping: {kind} names {n!r}, which the {side} table does not have; its names are: {shown}"
            )


def plan(
    source: Sequence[Param],
    target: Sequence[Param],
    overrides: Mapping[str, str | Sequence[str]] | None = None,
    transforms: Mapping[str, str] | None = None,
    ignore: Iterable[str] = (),
) -> WeightMap:
    """Map the source table onto the target table (the module docstring gives the steps).

    ``overrides`` maps a target weight's name to the source weight name (or names, for a transform that takes
    two, like ``sum``) it is computed from; ``transforms`` sets a target weight's transform spec (with or
    without an override); ``ignore`` leaves out layers or weights by name on either side. Anything that cannot
    be mapped is a ParityError on one line naming both sides and the override that would settle it.
    """
    overrides = dict(overrides or {})
    transforms = dict(transforms or {})
    ignore = set(ignore)
    if not source or not target:
        raise ParityError("weight mapping: an empty parameter table (a model not built yet?); build both models first")
    src_names = {p.name for p in source}
    tgt_names = {p.name for p in target}
    _check_names("override", overrides, tgt_names, f"target ({target[0].framework})")
    _check_names("transforms", transforms, tgt_names, f"target ({target[0].framework})")
    for sources in overrides.values():
        _check_names(
            "an override's source",
            [sources] if isinstance(sources, str) else sources,
            src_names,
            f"source ({source[0].framework})",
        )
    layer_names = {p.layer for p in (*source, *target)}
    _check_names("ignore", ignore, src_names | tgt_names | layer_names, "source or target")
    for spec in transforms.values():
        layouts.parse(spec)

    def kept(table: Sequence[Param]) -> list[Param]:
        return [p for p in table if p.name not in ignore and p.layer not in ignore]

    src_kept, tgt_kept = kept(source), kept(target)
    by_name = {p.name: p for p in source}
    rows: dict[str, Row] = {}
    taken: set[str] = set()
    for t_name, s_names in overrides.items():
        t = next(p for p in target if p.name == t_name)
        srcs = tuple(by_name[n] for n in ([s_names] if isinstance(s_names, str) else s_names))
        how = transforms.get(t_name) or _default_transform(srcs, t)
        rows[t_name] = Row(t, srcs, how, "override")
        taken |= {s.name for s in srcs}

    # Layers left for the automatic pairing: a target layer with a weight not overridden, a source layer with a
    # weight no override took.
    tgt_layers = [(n, ps) for n, ps in _layers(tgt_kept) if any(p.name not in rows for p in ps)]
    src_layers = [(n, ps) for n, ps in _layers(src_kept) if any(p.name not in taken for p in ps)]
    unused: list[Param] = []
    for i in range(max(len(src_layers), len(tgt_layers))):
        if i >= len(src_layers) or i >= len(tgt_layers):
            extra, side, other = (
                (tgt_layers[i], "target", source[0].framework)
                if i >= len(src_layers)
                else (src_layers[i], "source", target[0].framework)
            )
            p = extra[1][0]
            raise ParityError(
                f"weight mapping: {len(src_layers)} {source[0].framework} layers with weights against "
                f"{len(tgt_layers)} {target[0].framework}: {side} layer {p.framework} {extra[0]!r} "
                f"({p.layer_type}) has no twin in {other}; "
                f"{_fix_hint(p.name)}"
            )
        (sn, sl), (tn, tl) = src_layers[i], tgt_layers[i]
        if sl[0].layer_type != tl[0].layer_type:
            raise ParityError(
                f"weight mapping: layer {i + 1} with weights is {sl[0].framework} {sn!r} ({sl[0].layer_type}) but "
                f"{tl[0].framework} {tn!r} ({tl[0].layer_type}); {_fix_hint(tl[0].name)}"
            )
        layer_rows, layer_unused = _layer_rows(sl, tl)
        for r in layer_rows:
            if r.target.name in rows:
                continue
            if r.target.name in transforms:
                r = Row(r.target, r.sources, transforms[r.target.name], "override")
            rows[r.target.name] = r
        unused += [p for p in layer_unused if p.name not in taken]

    consumed = {s.name for r in rows.values() for s in r.sources}
    unused = [p for p in unused if p.name not in consumed]
    for p in unused:
        if p.role not in NO_TWIN_ROLES:
            raise ParityError(
                f"weight mapping: source weight {p.label()} has no twin in {target[0].framework}'s layer; build "
                f"both layers alike, or map it by hand (overrides={{TARGET: {p.name!r}}}) or leave it out "
                f"(ignore=[{p.name!r}])"
            )
    ordered = tuple(rows[p.name] for p in target if p.name in rows)
    for r in ordered:
        _check_shape(r)
    return WeightMap(rows=ordered, unused=tuple(unused))


def check_assignable(
    arrays: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]], owner: str, label: str, thing: str
) -> None:
    """Before any weight moves: every mapped array names a weight the target has, at that weight's shape (one
    line if not: ``owner`` has no weight ..., or ``label`` NAME is SHAPE, ...; read the table from this
    ``thing``). The Keras and torch writers' shared check."""
    for name, value in arrays.items():
        if name not in shapes:
            raise ParityError(f"weight mapping: {owner} has no weight {name!r}; read the table from this {thing}")
        if tuple(shapes[name]) != tuple(np.shape(value)):
            raise ParityError(
                f"weight mapping: {label} {name!r} is {tuple(shapes[name])}, the mapped value {np.shape(value)}; "
                f"read the table from this {thing}"
            )


def _check_shape(row: Row) -> None:
    """The transform of the sources' shapes gives the target's shape (checked on zero-stride stand-ins)."""
    if row.transform == "keep":
        return
    stand_ins = [np.broadcast_to(np.int8(0), s.shape) for s in row.sources]  # views: no memory per element
    names = " + ".join(s.label() for s in row.sources) or "nothing"
    try:
        got: tuple[int, ...] | str = layouts.apply(row.transform, stand_ins, row.target.shape).shape
    except ValueError as e:
        got = f"an error ({e})"
    if got != row.target.shape:
        raise ParityError(
            f"weight mapping: {names} -> {row.target.label()} by {row.transform} gives {got}, not "
            f"{row.target.shape}; {_fix_hint(row.target.name)}"
        )
