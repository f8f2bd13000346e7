"""The model (784-1000-1 MLP, ReLU, sigmoid output) and its weights.

Weights travel between arms as a plain ``dict[str, np.ndarray]`` with the names
below, in stax's (in, out) kernel layout, which is also Keras's. Every transfer
checks names and shapes first (``check_weights``), then copies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping

import numpy as np

INPUT_DIM = 784
HIDDEN = 1000

# name -> shape, in the order Keras's ``get_weights`` and stax's params list them.
PARAM_SHAPES: dict[str, tuple[int, ...]] = {
    "dense_0/kernel": (INPUT_DIM, HIDDEN),
    "dense_0/bias": (HIDDEN,),
    "dense_1/kernel": (HIDDEN, 1),
    "dense_1/bias": (1,),
}
PARAM_NAMES: tuple[str, ...] = tuple(PARAM_SHAPES)

Weights = dict[str, np.ndarray]


def check_weights(weights: Mapping[str, np.ndarray], what: str = "weights") -> None:
    """Raise ValueError unless ``weights`` has exactly the model's names and shapes."""
    names = set(weights)
    if names != set(PARAM_NAMES):
        raise ValueError(
            f"{what}: expected parameters {list(PARAM_NAMES)}, got {sorted(names)}"
        )
    for name, shape in PARAM_SHAPES.items():
        got = tuple(np.shape(weights[name]))
        if got != shape:
            raise ValueError(f"{what}: {name} has shape {got}, expected {shape}")


def copy_weights(weights: Mapping[str, np.ndarray], dtype=np.float32) -> Weights:
    """Checked, contiguous copies (Keras's JAX backend may delete buffers it is handed)."""
    check_weights(weights)
    return {k: np.array(weights[k], dtype=dtype, copy=True, order="C") for k in PARAM_NAMES}


def weights_sha256(weights: Mapping[str, np.ndarray]) -> str:
    """sha256 over the float32 little-endian bytes of each parameter, in PARAM_NAMES order.

    Two runs have the same hash exactly when their final weights are bit-identical.
    """
    check_weights(weights)
    h = hashlib.sha256()
    for name in PARAM_NAMES:
        arr = np.ascontiguousarray(weights[name], dtype="<f4")
        h.update(name.encode())
        h.update(arr.tobytes())
    return h.hexdigest()


def init_weights(seed: int, threefry_partitionable: bool = False) -> Weights:
    """The one source of initial weights: stax's init at ``PRNGKey(seed)``.

    The seed experiment used ``jax.example_libraries.stax`` with the old
    (non-partitionable) threefry; JAX flipped that default in 0.5, which changes
    every random draw, so the setting is explicit and recorded.
    """
    import jax
    from jax.example_libraries import stax

    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", bool(threefry_partitionable))
    try:
        init_fun, _ = stax.serial(stax.Dense(HIDDEN), stax.Relu, stax.Dense(1), stax.Sigmoid)
        _, params = init_fun(jax.random.PRNGKey(seed), (-1, INPUT_DIM))
        (w0, b0), _, (w1, b1), _ = params
        out = {
            "dense_0/kernel": np.asarray(w0),
            "dense_0/bias": np.asarray(b0),
            "dense_1/kernel": np.asarray(w1),
            "dense_1/bias": np.asarray(b1),
        }
    finally:
        jax.config.update("jax_threefry_partitionable", previous)
    return copy_weights(out)


def forward_logits(weights: Mapping[str, np.ndarray], x: np.ndarray, dtype=np.float64) -> np.ndarray:
    """NumPy forward pass to the logit (before the sigmoid), in ``dtype``."""
    w = {k: np.asarray(v, dtype=dtype) for k, v in weights.items()}
    h = np.maximum(np.asarray(x, dtype=dtype) @ w["dense_0/kernel"] + w["dense_0/bias"], 0)
    return h @ w["dense_1/kernel"] + w["dense_1/bias"]


def count_correct(prob_or_logit: np.ndarray, y: np.ndarray, threshold: float) -> int:
    """Samples whose prediction (value > threshold) matches the 0/1 label.

    A NaN prediction compares False, i.e. predicts class 0, as Keras and the seed did.
    """
    pred = np.asarray(prob_or_logit).reshape(-1) > threshold
    return int(np.sum(pred == (np.asarray(y).reshape(-1) > 0.5)))


def write_weights_npz(fh, groups: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """Write ``{prefix: weights}`` to an open binary file as one npz with keys ``prefix/param``."""
    np.savez(fh, **{f"{prefix}/{name}": np.asarray(arr) for prefix, w in groups.items() for name, arr in w.items()})


def save_weights_npz(path, groups: Mapping[str, Mapping[str, np.ndarray]]) -> None:
    """``write_weights_npz`` to ``path`` (for files a caller renames into place itself)."""
    with open(path, "wb") as fh:
        write_weights_npz(fh, groups)


def load_weights_npz(path) -> dict[str, Weights]:
    """Inverse of ``save_weights_npz``."""
    out: dict[str, Weights] = {}
    with np.load(path, allow_pickle=False) as z:
        for key in z.files:
            prefix, _, rest = key.rpartition("/")
            prefix, _, layer = prefix.rpartition("/")
            out.setdefault(prefix, {})[f"{layer}/{rest}"] = z[key]
    return out
