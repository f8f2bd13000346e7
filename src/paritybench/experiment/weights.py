"""Weights as they travel between arms: ``{name: float32 array}`` checked against a declaration.

A workload declares its parameters once (name -> shape, ``Model.params``); every
transfer between arms, processes and files checks names and shapes first, then
copies. The final-weights hash is over the declared order, so two runs have the
same hash exactly when their final weights are bit-identical.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

from paritybench.artifact.records import RunKey

Weights = dict[str, np.ndarray]
Shapes = Mapping[str, tuple[int, ...]]


def check_weights(weights: Mapping[str, np.ndarray], shapes: Shapes, what: str = "weights") -> None:
    """Raise ValueError unless ``weights`` has exactly the declared names and shapes."""
    names = set(weights)
    if names != set(shapes):
        raise ValueError(f"{what}: expected parameters {list(shapes)}, got {sorted(names)}")
    for name, shape in shapes.items():
        got = tuple(np.shape(weights[name]))
        if got != tuple(shape):
            raise ValueError(f"{what}: {name} has shape {got}, expected {tuple(shape)}")


def copy_weights(weights: Mapping[str, np.ndarray], shapes: Shapes, dtype=np.float32) -> Weights:
    """Checked, contiguous copies (Keras's JAX backend may delete buffers it is handed)."""
    check_weights(weights, shapes)
    return {k: np.array(weights[k], dtype=dtype, copy=True, order="C") for k in shapes}


def weights_sha256(weights: Mapping[str, np.ndarray], shapes: Shapes | None = None) -> str:
    """sha256 over each parameter's name and float32 little-endian bytes, in declared order.

    Without ``shapes`` the order is the mapping's own (the declared order, for weights
    made by ``copy_weights`` or read from an artifact's npz in the order it was written).
    """
    if shapes is not None:
        check_weights(weights, shapes)
    h = hashlib.sha256()
    for name in shapes or weights:
        arr = np.ascontiguousarray(weights[name], dtype="<f4")
        h.update(name.encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def n_params(shapes: Shapes) -> int:
    return int(sum(int(np.prod(s)) for s in shapes.values()))


def write_weights_npz(fh, groups: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write ``{prefix: weights}`` to an open binary file as one npz with keys ``prefix/param``."""
    np.savez(fh, **{f"{prefix}/{name}": np.asarray(arr) for prefix, w in groups.items() for name, arr in w.items()})


def save_weights_npz(path, groups: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """``write_weights_npz`` to ``path`` (for files a caller renames into place itself)."""
    with open(path, "wb") as fh:
        write_weights_npz(fh, groups)


def load_weights_npz(path, shapes: Shapes | None = None) -> dict[str, Weights]:
    """Inverse of ``save_weights_npz``: ``{prefix: {param: array}}``.

    Parameter names may hold one '/' (``dense_0/kernel``): the prefix is what stands
    before the last two segments when ``shapes`` is not given, else before the declared
    parameter name the key ends with.
    """
    out: dict[str, Weights] = {}
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            name = next((p for p in (shapes or ()) if key.endswith("/" + p)), None)
            if name is None:
                prefix, _, rest = key.rpartition("/")
                prefix, _, layer = prefix.rpartition("/")
                name = f"{layer}/{rest}"
            else:
                prefix = key[: -len(name) - 1]
            out.setdefault(prefix, {})[name] = z[key]
    return out


def weights_group(key: tuple[str, int, int, int | None]) -> str:
    """The npz prefix of one run's final weights: ``arm/s<seed>/w<window>[/c<copy>]`` (``RunKey.group``)."""
    return RunKey(*key).group
