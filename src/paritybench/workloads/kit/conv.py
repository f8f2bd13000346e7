"""The small image classifier declared once: one ``Conv2D`` then a ``Dense`` over its flattened map (no
framework).

Its parameters are Keras's layouts: the conv kernel (kh, kw, in, out), lax's "HWIO" on NHWC inputs; the dense
kernel (features, units) with its rows in Keras's (h, w, c) ``Flatten`` order. ``kit.jax.conv2d``,
``kit.torch.conv2d`` and ``kit.keras.conv_classifier`` read these names.
"""

from __future__ import annotations


def conv_dense_params(kernel: int, filters: int, features: int, units: int = 1) -> dict[str, tuple[int, ...]]:
    """``conv/kernel`` (kernel, kernel, 1, filters), ``conv/bias``, ``dense/kernel`` (features, units) and
    ``dense/bias``, in forward order (the order ``kit.init.glorot_uniform`` draws them in)."""
    return {
        "conv/kernel": (kernel, kernel, 1, filters),
        "conv/bias": (filters,),
        "dense/kernel": (features, units),
        "dense/bias": (units,),
    }
