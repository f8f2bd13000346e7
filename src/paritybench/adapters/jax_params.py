"""The parameter table of a JAX params pytree (a dict of dicts, flax's included), and assigning mapped weights.

No framework is imported: the tree is walked as nested mappings, in the user's own insertion order (the order
``jax.tree_util`` would *not* keep: it sorts dict keys). A layer is the path to a dict of arrays; its type is
read from its leaves' names as flax names them (linen ``Dense``/``Conv``: ``kernel``, ``bias``; ``Embed``:
``embedding``; ``LayerNorm``: ``scale``, ``bias``; ``BatchNorm``: ``scale``, ``bias`` in ``params`` and
``mean``, ``var`` in ``batch_stats``) or by the common short names ``w``, ``b``; a layer with ``kernel``,
``recurrent_kernel`` (and ``bias``) in Keras's cell layout is an LSTM when the kernels are 4 gate blocks wide
(``(in, 4u)``, ``(u, 4u)``) and a GRU when 3 (its bias ``(2, 3u)`` with ``reset_after=True``). Kernels are
taken in flax's channels-last layout (``(in, out)``, ``(*k, in, out)``): a pytree laid out as torch's is declared with
``layout="torch"``. A flax variables dict ``{"params": ..., "batch_stats": ...}`` is read as one tree whose
layers merge both collections. A Dense after a flattened feature map is declared with
``flatten_from={layer: (H, W, C)}``: a pure function's reshape is not visible in its params.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from paritybench.errors import ParityError

from .mapping import Param

_ROLE = {
    "w": "kernel",
    "weight": "kernel",
    "b": "bias",
    "embedding": "embeddings",
    "mean": "moving_mean",
    "var": "moving_variance",
}
COLLECTIONS = ("params", "batch_stats")


def _leaves(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out += _leaves(v, (*prefix, str(k)))
        else:
            out.append(((*prefix, str(k)), v))
    return out


def _layer_type(leaves: Mapping[str, Any]) -> str:
    names = set(leaves)
    if "embedding" in names:
        return "embedding"
    if {"mean", "var"} <= names:
        return "batchnorm"
    if "scale" in names:
        return "layernorm"
    if "recurrent_kernel" in names and "kernel" in names:
        # Keras's cell layout (layouts' docstring): an LSTM's kernels have 4 gate blocks, a GRU's 3
        units, width = np.shape(leaves["recurrent_kernel"])[0], np.shape(leaves["kernel"])[-1]
        return {4 * units: "lstm", 3 * units: "gru"}.get(width, "unknown")
    kernel = next((leaves[k] for k in ("kernel", "w", "weight") if k in leaves), None)
    if kernel is not None:
        return {2: "dense", 3: "conv1d", 4: "conv2d", 5: "conv3d"}.get(np.ndim(kernel), "unknown")
    return "unknown"


def read_pytree(
    params: Mapping[str, Any], layout: str = "flax", flatten_from: Mapping[str, tuple[int, ...]] | None = None
) -> list[Param]:
    """The parameter table of a params pytree, layers in the tree's own order ("a/b" names a nested path)."""
    if layout not in ("flax", "torch"):
        raise ParityError(f"weight mapping: unknown pytree layout {layout!r}; use 'flax' (channels-last) or 'torch'")
    framework = "jax" if layout == "flax" else "torch"
    if set(params) and set(params) <= set(COLLECTIONS) and all(isinstance(v, Mapping) for v in params.values()):
        merged: dict[str, dict[str, Any]] = {}
        for coll in COLLECTIONS:
            for path, leaf in _leaves(params.get(coll, {})):
                merged.setdefault("/".join(path[:-1]), {})[path[-1]] = (f"{coll}/{'/'.join(path)}", leaf)
        layers = list(merged.items())
    else:
        grouped: dict[str, dict[str, tuple[str, Any]]] = {}
        for path, leaf in _leaves(params):
            grouped.setdefault("/".join(path[:-1]), {})[path[-1]] = ("/".join(path), leaf)
        layers = list(grouped.items())
    table: list[Param] = []
    for layer, leaves in layers:
        layer_type = _layer_type({k: v for k, (_n, v) in leaves.items()})
        for key, (name, leaf) in leaves.items():
            role = _ROLE.get(key, key)
            if layer_type in ("layernorm", "batchnorm"):
                role = {"scale": "gamma", "weight": "gamma", "bias": "beta"}.get(key, role)
            ff = (flatten_from or {}).get(layer) if layer_type == "dense" and role == "kernel" else None
            dtype = str(np.dtype(getattr(leaf, "dtype", np.asarray(leaf).dtype)))
            table.append(Param(framework, layer or "(root)", layer_type, role, name, tuple(np.shape(leaf)), dtype, ff))
    return table


def pytree_arrays(params: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Every leaf of the tree as a NumPy array, by its "/"-joined path (the names :func:`read_pytree` gives)."""
    return {"/".join(path): np.asarray(leaf) for path, leaf in _leaves(params)}


def assign_pytree(params: Mapping[str, Any], arrays: Mapping[str, np.ndarray]) -> dict[str, Any]:
    """A new tree of plain dicts, with the mapped arrays in place of the leaves they name (the rest kept).

    A leaf that was a JAX array stays one (``jax.numpy.asarray``); shapes are checked first."""
    leaves = dict(_leaves(params))
    for name, value in arrays.items():
        path = tuple(name.split("/"))
        if path not in leaves:
            raise ParityError(f"weight mapping: the pytree has no leaf {name!r}; read the table from this tree")
        if tuple(np.shape(leaves[path])) != tuple(np.shape(value)):
            raise ParityError(
                f"weight mapping: pytree leaf {name!r} is {np.shape(leaves[path])}, the mapped value "
                f"{np.shape(value)}; read the table from this tree"
            )

    def rebuild(tree: Mapping[str, Any], prefix: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in tree.items():
            path = (*prefix, str(k))
            if isinstance(v, Mapping):
                out[k] = rebuild(v, path)
            elif "/".join(path) in arrays:
                out[k] = _like(v, arrays["/".join(path)])
            else:
                out[k] = v
        return out

    return rebuild(params, ())


def _like(old: Any, value: np.ndarray) -> Any:
    dtype = getattr(old, "dtype", np.asarray(old).dtype)
    if type(old).__module__.startswith("jax"):
        import jax.numpy as jnp  # late: only when the tree's own leaves are JAX arrays (JAX is loaded already)

        return jnp.asarray(value, dtype=dtype)
    return np.asarray(value, dtype=dtype)
