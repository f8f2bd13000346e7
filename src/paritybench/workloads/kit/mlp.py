"""The multi-layer perceptron declared once: its parameter names and shapes (no framework), plain and with one
BatchNormalization."""

from __future__ import annotations


def dense_params(sizes: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """``dense_i/kernel`` (in, out) and ``dense_i/bias`` (out,) for each consecutive pair of ``sizes``, in
    forward order: the names every framework's MLP in the kit reads (``Model.params``)."""
    out: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        out[f"dense_{i}/kernel"] = (a, b)
        out[f"dense_{i}/bias"] = (b,)
    return out


def bn_params(inputs: int, hidden: int, classes: int) -> dict[str, tuple[int, ...]]:
    """The MLP ``inputs``-``hidden``-BatchNormalization-ReLU-``classes``: ``dense_0``, ``bn/gamma`` and ``bn/beta``,
    ``dense_1``, in forward order (``kit.init.glorot_uniform`` draws the kernels in it)."""
    return {
        "dense_0/kernel": (inputs, hidden),
        "dense_0/bias": (hidden,),
        "bn/gamma": (hidden,),
        "bn/beta": (hidden,),
        "dense_1/kernel": (hidden, classes),
        "dense_1/bias": (classes,),
    }


def bn_state(hidden: int) -> tuple[dict[str, tuple[int, ...]], dict[str, float]]:
    """Its moving statistics (``Model.state``) and their initial values (``Model.state_init``): Keras's
    ``moving_mean_initializer`` "zeros", ``moving_variance_initializer`` "ones"."""
    return (
        {"bn/moving_mean": (hidden,), "bn/moving_variance": (hidden,)},
        {"bn/moving_mean": 0.0, "bn/moving_variance": 1.0},
    )
