"""The small image classifier declared once: one ``Conv2D`` then a ``Dense`` over its flattened map (no
framework).

Its parameters are Keras's layouts: the conv kernel (kh, kw, in, out), lax's "HWIO" on NHWC inputs; the dense
kernel (features, units) with its rows in Keras's (h, w, c) ``Flatten`` order. ``kit.jax.conv2d``,
``kit.torch.conv2d`` and ``kit.keras.conv_classifier`` read these names. Beside them the setting every
built-in convolution workload trains in (``DATA``, ``TRAINING``); ``Folder.conv_model`` lays out its ``Model``.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training

# Normalized binary MNIST (digit >= 5): the 28x28 image the convolution's padding and pooling act on.
DATA = Data(dataset="mnist", labels="binary", n=1000, normalize=True)
# 10 full-batch SGD steps at lr 0.5: at lr 0.1 the strided 3x3 convolution gets past 0.70 in 10 steps with
# neither padding convention.
TRAINING = Training(steps=10, lr=0.5)


def conv_dense_params(kernel: int, filters: int, features: int, units: int = 1) -> dict[str, tuple[int, ...]]:
    """``conv/kernel`` (kernel, kernel, 1, filters), ``conv/bias``, ``dense/kernel`` (features, units) and
    ``dense/bias``, in forward order (the order ``kit.init.glorot_uniform`` draws them in)."""
    return {
        "conv/kernel": (kernel, kernel, 1, filters),
        "conv/bias": (filters,),
        "dense/kernel": (features, units),
        "dense/bias": (units,),
    }
