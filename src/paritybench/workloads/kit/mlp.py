"""The multi-layer perceptron declared once: its parameter names and shapes (no framework)."""

from __future__ import annotations


def dense_params(sizes: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """``dense_i/kernel`` (in, out) and ``dense_i/bias`` (out,) for each consecutive pair of ``sizes``, in
    forward order: the names every framework's MLP in the kit reads (``Model.params``)."""
    out: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        out[f"dense_{i}/kernel"] = (a, b)
        out[f"dense_{i}/bias"] = (b,)
    return out
