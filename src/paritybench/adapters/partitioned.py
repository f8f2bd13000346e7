"""Equinox-style partitioned models reduced to the JAX adapter (:class:`arms.JaxModel`), without equinox.

The user's model is a pytree object: any registered pytree (an ``equinox.Module``, a class registered with
``jax.tree_util.register_dataclass``, a NamedTuple of arrays, ...) whose array leaves are its weights and whose
other leaves (an activation's name, a function, a Python number) are settings, callable as ``model(x)`` (or
through ``apply(model, x)``). Equinox trains it as ``params, static = eqx.partition(model, eqx.is_array)`` and
``eqx.combine(params, static)`` before each forward pass; equinox's ``partition`` is a ``jax.tree_util.tree_map``
that keeps a leaf on the left when ``is_array(leaf)`` (an ``np.ndarray``, ``np.generic`` or ``jax.Array``) and
``None`` on the right, and ``combine`` takes each leaf from the first tree where it is not None
(``equinox/_filters.py``). Here the same split is done on the flattened leaves directly:

- ``init(seed)``: ``build(seed)`` flattened by ``jax.tree_util.tree_flatten_with_path``; its array leaves are the
  params, a nested dict keyed by each leaf's path (``GetAttrKey`` by the attribute's name, ``SequenceKey`` by the
  index, ``DictKey`` by the key: ``layers/0/weight``), in flattening order, which is what the declared weights
  map onto by order and shape (:func:`mapping.plan`, as for any ``JaxModel``) and what the mapping table shows.
- ``apply(params, x)``: the treedef and the non-array leaves of ``build(0)`` (the static part), the params put
  back in their slots (``jax.tree_util.tree_unflatten``), then ``model(x)``.
- the parameter table (:meth:`_Partition.table`): a leaf held by an ``equinox.nn`` layer (its class, or a
  subclass's, defined in ``equinox.nn``: found by walking the path on the model, without importing equinox) is
  read in equinox's layout, which is torch's (``layouts``' docstring): ``Linear``'s weight ``(out, in)``,
  ``Conv``'s OIHW weight and ``(C, 1, ..., 1)`` bias, ``Embedding``, ``LayerNorm``, ``LSTMCell``; the mapping
  from the declared (channels-last) weights then transposes them, as it does for torch, and the arm computes
  each such weight from its declared one by a gather both ways (``calls.Relayout``). A ``Linear`` after a
  ``Conv`` whose ``in_features`` is a multiple ``k > 1`` of the conv's ``out_channels`` reads a flattened
  ``(C, *spatial)`` map (equinox's conv returns ``(out_channels, *spatial)``; ``x.reshape(-1)`` flattens it
  channels-first), which the permutation depends on only through ``C`` and ``k``: its rows are permuted from
  the declared ``(*spatial, C)`` order (``flatten_to_channels_first(k,C)`` in the table; a model that moves the
  channels last before flattening overrides it: ``mapping={"transforms": {"out/weight": "transpose"}}``). Any
  other leaf is read as flax lays it out (``jax_params.read_pytree``).
- ``step`` (optional, the ``jax-step`` arm): the user's own train step as equinox users write it,
  ``step(model, opt_state, x, y) -> (model, opt_state, loss)`` with ``opt_state`` from
  ``optimizer.init(eqx.filter(model, eqx.is_array))``: the model with None in its non-array slots, which is what
  the optimizer state's params-shaped parts (Adam's ``mu``, ``nu``) are given as, and taken back from.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import numpy as np

from paritybench.errors import ParityError
from paritybench.workloads.base import Ref, resolve_ref

from .arms import JaxModel, _as, _label, _leaf_paths, map_state, user_call
from .jax_params import read_pytree
from .mapping import Param

# equinox.nn's layers with a layout rule: class name -> (layer type, {attribute: role}) (layouts' docstring).
_DENSE = {"weight": "kernel", "bias": "bias"}
EQUINOX_LAYERS: dict[str, tuple[str, dict[str, str]]] = {
    "Linear": ("dense", _DENSE),
    "Conv1d": ("conv1d", _DENSE),
    "Conv2d": ("conv2d", _DENSE),
    "Conv3d": ("conv3d", _DENSE),
    "Conv": ("conv", _DENSE),  # conv{num_spatial_dims}d
    "Embedding": ("embedding", {"weight": "embeddings"}),
    "LayerNorm": ("layernorm", {"weight": "gamma", "bias": "beta"}),
    "LSTMCell": ("lstm", {"weight_ih": "kernel", "weight_hh": "recurrent_kernel", "bias": "bias"}),
}
_CONVS = ("conv1d", "conv2d", "conv3d")


def _equinox_layer(owner: Any) -> tuple[str, dict[str, str]] | None:
    """The layer type and roles of an ``equinox.nn`` layer (or a subclass of one); None for anything else."""
    for cls in type(owner).__mro__:
        if cls.__module__.startswith("equinox.nn") and cls.__name__ in EQUINOX_LAYERS:
            layer_type, roles = EQUINOX_LAYERS[cls.__name__]
            if layer_type == "conv":
                layer_type = f"conv{getattr(owner, 'num_spatial_dims', 0)}d"
            return layer_type, roles
    return None


def _child(node: Any, entry: Any) -> Any:
    """The subtree a ``jax.tree_util`` path entry names (an attribute, a sequence index or a dict key)."""
    if hasattr(entry, "name"):
        return getattr(node, entry.name)
    if hasattr(entry, "idx"):
        return node[entry.idx]
    return node[entry.key]


def _get(ref: Any) -> Any:
    return resolve_ref(ref) if isinstance(ref, str) else ref


def _is_array(leaf: Any) -> bool:
    """``equinox.is_array``: a JAX or NumPy array (or NumPy scalar)."""
    import jax  # late: a framework: the arm runs after the numerics flags

    return isinstance(leaf, (np.ndarray, np.generic, jax.Array))


def _key(entry: Any) -> str:
    """One ``jax.tree_util`` path entry as a name: an attribute's name, a sequence index, a dict key."""
    for attr in ("name", "key", "idx"):
        if hasattr(entry, attr):
            return str(getattr(entry, attr))
    return str(entry)


class _Partition:
    """The user's ``build(seed)``, flattened: its treedef, which slots hold arrays, and the array leaves' paths."""

    def __init__(self, build: Ref) -> None:
        self.build, self.label = build, _label(build)

    def flatten(self, seed: int) -> tuple[Any, list[tuple[tuple[str, ...], Any]]]:
        import jax  # late: a framework: the arm runs after the numerics flags

        model = user_call(f"model {self.label}", _get(self.build), seed)
        flat, treedef = jax.tree_util.tree_flatten_with_path(model)
        return treedef, [(tuple(_key(e) for e in path), leaf) for path, leaf in flat]

    @functools.cached_property
    def static(self) -> tuple[Any, list[Any], list[tuple[str, ...]]]:
        """``build(0)``'s treedef, its leaves with None in the array slots, and the array leaves' paths."""
        treedef, leaves = self.flatten(0)
        arrays = [path for path, leaf in leaves if _is_array(leaf)]
        if not arrays:
            raise ParityError(
                f"model {self.label} has no array leaves (of {len(leaves)} leaves): return a pytree whose weights "
                "are JAX or NumPy arrays (an equinox Module, a registered dataclass, a NamedTuple of arrays)"
            )
        if len(set(arrays)) != len(arrays) or any(not p for p in arrays):
            raise ParityError(
                f"model {self.label}: its array leaves' paths {['/'.join(p) for p in arrays]} do not name them "
                "apart; give each weight its own attribute or key"
            )
        return treedef, [None if _is_array(leaf) else leaf for _p, leaf in leaves], arrays

    def table(self) -> list[Param]:
        """The parameter table of ``build(0)``'s array leaves: equinox's layers in its (torch's) layout, the rest as
        flax's (the module docstring)."""
        import jax  # late: a framework: the arm runs after the numerics flags

        model = user_call(f"model {self.label}", _get(self.build), 0)
        owners: dict[str, tuple[str, dict[str, str], str]] = {}  # leaf name -> layer type, roles, attribute
        for path, leaf in jax.tree_util.tree_flatten_with_path(model)[0]:
            if not _is_array(leaf) or not path:
                continue
            node = model
            try:
                for entry in path[:-1]:
                    node = _child(node, entry)
            except (AttributeError, KeyError, IndexError, TypeError):
                continue  # a custom node whose path does not walk: read as flax's
            known = _equinox_layer(node)
            if known is not None and _key(path[-1]) in known[1]:
                owners["/".join(_key(e) for e in path)] = (*known, _key(path[-1]))
        table: list[Param] = []
        previous: Param | None = None  # the last weighted layer's first weight
        for p in read_pytree(self.params(0)):
            if p.name in owners:
                layer_type, roles, attr = owners[p.name]
                flatten = None
                if layer_type == "dense" and roles[attr] == "kernel" and previous is not None:
                    if previous.framework == "equinox" and previous.layer_type in _CONVS and previous.shape:
                        channels, width = previous.shape[0], p.shape[1] if len(p.shape) == 2 else 0
                        if width > channels and width % channels == 0:
                            flatten = (channels, width // channels)  # the (C, *spatial) map, spatial as one axis
                p = Param("equinox", p.layer, layer_type, roles[attr], p.name, p.shape, p.dtype, flatten)
            if previous is None or p.layer != previous.layer:
                previous = p
            table.append(p)
        return table

    def params(self, seed: int) -> dict[str, Any]:
        """The array leaves of ``build(seed)`` as a nested dict by their paths, in flattening order."""
        treedef, leaves = self.flatten(seed)
        want, _static, _arrays = self.static
        if treedef != want:
            raise ParityError(
                f"model {self.label}: build({seed}) has another structure than build(0) ({treedef} for {want}); "
                "make the seed change the weights only"
            )
        tree: dict[str, Any] = {}
        for path, leaf in leaves:
            if _is_array(leaf):
                node = tree
                for p in path[:-1]:
                    node = node.setdefault(p, {})
                node[path[-1]] = leaf
        return tree

    def combine(self, params: Mapping[str, Any]) -> Any:
        """``eqx.combine(params, static)``: the model with the params in its array slots (``None`` in the rest of
        ``params``'s slots stays None: :meth:`filtered`)."""
        import jax  # late: a framework: the arm runs after the numerics flags

        treedef, static, arrays = self.static
        by_path = {path: leaf for path, leaf in _leaf_paths(params)}
        it = iter(by_path[path] for path in arrays)
        return jax.tree_util.tree_unflatten(treedef, [next(it) if s is None else s for s in static])

    def filtered(self, params: Mapping[str, Any]) -> Any:
        """``eqx.filter(model, eqx.is_array)``: the model with the params in its array slots and None elsewhere."""
        import jax  # late: a framework: the arm runs after the numerics flags

        treedef, static, arrays = self.static
        by_path = {path: leaf for path, leaf in _leaf_paths(params)}
        it = iter(by_path[path] for path in arrays)
        return jax.tree_util.tree_unflatten(treedef, [next(it) if s is None else None for s in static])

    def split(self, model: Any, what: str) -> dict[str, Any]:
        """The array leaves of a model (or a filtered model) of this structure, as the nested params dict."""
        import jax  # late: a framework: the arm runs after the numerics flags

        treedef, static, arrays = self.static
        try:  # the subtree at each of the treedef's leaf slots: a leaf, or None in a filtered model's static slot
            leaves = treedef.flatten_up_to(model)
        except (ValueError, TypeError) as exc:
            raise ParityError(
                f"{what} returns a model of another structure ({jax.tree.structure(model)} for {treedef}): return "
                "the model it was given, updated"
            ) from exc
        tree: dict[str, Any] = {}
        for path, leaf in zip(arrays, (v for v, s in zip(leaves, static, strict=True) if s is None), strict=True):
            node = tree
            for p in path[:-1]:
                node = node.setdefault(p, {})
            node[path[-1]] = leaf
        return tree


def _state_to_model(part: _Partition, state: Any) -> Any:
    """The optimizer state with every params-shaped dict (Adam's moments) as the filtered model."""
    paths = set(part.static[2])
    return map_state(state, lambda s: {p for p, _ in _leaf_paths(s)} == paths, part.filtered)


def _state_to_dicts(part: _Partition, state: Any) -> Any:
    """The optimizer state with every subtree shaped like the filtered model back as the params dict."""
    import jax  # late: a framework: the arm runs after the numerics flags

    treedef, static, _arrays = part.static
    # the filtered model's structure: a PyTreeDef, compared by ==, which its stub does not declare
    filtered_def: Any = jax.tree.structure(
        jax.tree_util.tree_unflatten(treedef, [0 if s is None else None for s in static])
    )

    def is_model(n: Any) -> bool:  # a treedef holds its nodes' types: only the filtered model matches
        return n is not None and jax.tree.structure(n) == filtered_def

    return jax.tree.map(lambda n: part.split(n, "the optimizer state") if is_model(n) else n, state, is_leaf=is_model)


def partitioned_model(
    build: Ref,
    optimizer: Any,
    loss: Ref,
    step: Ref | None = None,
    *,
    mapping: Mapping[str, Any] | None = None,
    apply: Ref | None = None,
) -> JaxModel:
    """A :class:`JaxModel` of the user's ``build(seed)`` returning a pytree model (an ``equinox.Module``, a
    registered dataclass, a NamedTuple of arrays), its array leaves the weights (by their paths, in flattening
    order), the rest static; ``model(x)`` is the forward pass, or ``apply(model, x)`` where given. ``step``: the
    user's own train step, ``step(model, opt_state, x, y) -> (model, opt_state, loss)`` over
    ``optimizer.init(eqx.filter(model, eqx.is_array))``'s state, the ``jax-step`` arm."""
    part = _Partition(build)
    label = part.label

    def init(seed: int) -> dict[str, Any]:
        return part.params(seed)

    def forward(params: Any, x: Any) -> Any:
        model = part.combine(params)
        if apply is not None:
            return _get(apply)(model, x)
        if not callable(model):
            raise ParityError(f"model {label} is a {type(model).__name__}, not callable: pass apply=fn(model, x)")
        return model(x)

    own_step = None
    if step is not None:
        what = f"step {_label(step)}"

        def own(params: Any, opt_state: Any, x: Any, y: Any) -> Any:
            fn = _get(step)
            own.__wrapped__ = fn  # type: ignore[attr-defined]  # JaxModel's checks name the user's file and line
            out = user_call(what, fn, part.combine(params), _state_to_model(part, opt_state), x, y)
            if not isinstance(out, (tuple, list)) or len(out) < 3:
                return out  # JaxModel's check refuses it in one line
            return (part.split(out[0], what), _state_to_dicts(part, out[1]), *out[2:])

        own_step = _as(own, step)

    return JaxModel(
        _as(forward, f"{label}.apply"),
        _as(init, f"{label}.init"),
        optimizer,
        loss,
        own_step,
        mapping=mapping,
        table=part.table,
    )
