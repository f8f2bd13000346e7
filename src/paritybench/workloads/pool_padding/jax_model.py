"""pool-padding in JAX: initial weights and four ways to average-pool the conv's 18x18 map to 9x9 (TensorFlow's
SAME, the literal port's divisor of 9, torch's (1, 1) padding, Keras-torch's replicated edge); the BCE
formulations its arms train with are the kit's (``kit/bce.py``, ``kit/losses.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax

from paritybench.workloads.kit.bce import keras_clip as keras_clip
from paritybench.workloads.kit.bce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.bce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import conv2d, flat_dense
from paritybench.workloads.pool_padding.workload import CROP, PARAMS, POOL, POOL_STRIDE, SIDE

# nn.AvgPool2d(padding=1): one cell on both sides of each axis; SAME here is (0, 1)
TORCH_PADDING = ((1, 1), (1, 1))
_WINDOW = (1, POOL, POOL, 1)
_STRIDES = (1, POOL_STRIDE, POOL_STRIDE, 1)


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def conv(params, x):
    """The central 20x20 of each flat 784-pixel row (Keras's ``Cropping2D(4)``), its 3x3 "valid" convolution plus
    bias and the ReLU: NHWC (n, 18, 18, 4). (jax.nn.relu: its gradient at 0 is 0, as Keras's and torch's.)"""
    return jax.nn.relu(conv2d(params, x, SIDE, crop=CROP))


def pool_sum(features, padding):
    """The 3x3 stride-2 window sums, zero-padded by ``padding`` ("SAME": (0, 1) on 18, or explicit pairs)."""
    pads = padding if isinstance(padding, str) else ((0, 0), *padding, (0, 0))
    return lax.reduce_window(features, 0.0, lax.add, _WINDOW, _STRIDES, pads)


def pool_exclude(features):
    """TensorFlow's SAME average (and Keras-JAX's, ``window_counts``): each sum over its count of real cells."""
    counts = pool_sum(jnp.ones((1, *features.shape[1:3], 1), features.dtype), "SAME")
    return pool_sum(features, "SAME") / counts


def pool_include(features):
    """The literal port: the SAME sum over the window's 9 cells (flax ``avg_pool``'s default
    ``count_include_pad=True``)."""
    return pool_sum(features, "SAME") / (POOL * POOL)


def pool_torch_pad(features):
    """``nn.AvgPool2d(3, stride=2, padding=1)``: padded (1, 1), the sum over 9 (``count_include_pad=True``)."""
    return pool_sum(features, TORCH_PADDING) / (POOL * POOL)


def pool_replicate(features):
    """Keras's torch backend on an asymmetric SAME: the (0, 1) cell replicates the edge (``mode="replicate"``),
    then a 9-cell average with nothing padded left to exclude."""
    padded = jnp.pad(features, ((0, 0), (0, 1), (0, 1), (0, 0)), mode="edge")
    return pool_sum(padded, "VALID") / (POOL * POOL)


def apply(params, x):
    """TensorFlow's model: padded cells excluded. The logit (n, 1)."""
    return flat_dense(params, pool_exclude(conv(params, x)))


def apply_include_pad(params, x):
    """The literal JAX port: the SAME sum over 9."""
    return flat_dense(params, pool_include(conv(params, x)))


def apply_torch_pad(params, x):
    """torch's ``nn.AvgPool2d(3, 2, padding=1)`` in JAX."""
    return flat_dense(params, pool_torch_pad(conv(params, x)))


def apply_replicate(params, x):
    """Keras-torch's pooling in JAX: the edge replicated into the (0, 1) cell."""
    return flat_dense(params, pool_replicate(conv(params, x)))


def _layers(params, x, pool):
    features = conv(params, x)
    return {"conv/relu": features, "pool": pool(features)}


def layers(params, x):
    """Each named layer's output in forward order (``Model.jax_layers``): the convolution's ReLU (Keras's
    ``Conv2D(activation="relu")`` output) and the pooled map (the ``AveragePooling2D``'s); then the logits."""
    return _layers(params, x, pool_exclude)


def layers_include_pad(params, x):
    """The literal port's layer outputs: the pooled map divided by 9 everywhere."""
    return _layers(params, x, pool_include)


def layers_torch_pad(params, x):
    """The torch-style port's layer outputs: the windows padded (1, 1)."""
    return _layers(params, x, pool_torch_pad)


def layers_replicate(params, x):
    """Keras-torch's layer outputs: the edge replicated."""
    return _layers(params, x, pool_replicate)
