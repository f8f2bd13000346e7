"""flatten-order in JAX: initial weights, Keras's (h, w, c) forward pass and the port's (c, h, w) one; the BCE
formulations its arms train with are the kit's (``kit/losses.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from paritybench.workloads.flatten_order.workload import FILTERS, FLAT, KERNEL, SIDE, STRIDE
from paritybench.workloads.kit.losses import bce_keras_clip as keras_clip
from paritybench.workloads.kit.losses import bce_keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.losses import bce_logits as logits

__all__ = [
    "apply",
    "apply_chw",
    "conv",
    "flatten_chw",
    "flatten_hwc",
    "init",
    "keras_clip",
    "keras_torch_clip",
    "layers",
    "layers_chw",
    "logits",
]


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """Keras's defaults drawn with NumPy: glorot_uniform kernels (a conv's fans are kh * kw * in and
    kh * kw * out), zero biases, from ``numpy.random.default_rng(seed)``; no JAX draw, so
    ``threefry_partitionable`` does not apply."""
    del threefry_partitionable
    rng = np.random.default_rng(seed)

    def glorot(shape, fan_in, fan_out):
        limit = np.sqrt(6.0 / (fan_in + fan_out))
        return rng.uniform(-limit, limit, size=shape).astype(np.float32)

    receptive = KERNEL * KERNEL
    return {
        "conv/kernel": glorot((KERNEL, KERNEL, 1, FILTERS), receptive * 1, receptive * FILTERS),
        "conv/bias": np.zeros(FILTERS, np.float32),
        "dense/kernel": glorot((FLAT, 1), FLAT, 1),
        "dense/bias": np.zeros(1, np.float32),
    }


def conv(params, x):
    """The strided 3x3 "valid" convolution plus bias and its ReLU on flat 784-pixel rows: NHWC (n, 13, 13, 4).
    (jax.nn.relu: its gradient at exactly 0 is 0, as Keras's and torch's; jnp.maximum's is 0.5.)"""
    images = x.reshape(-1, SIDE, SIDE, 1)
    out = lax.conv_general_dilated(
        images,
        params["conv/kernel"],
        window_strides=(STRIDE, STRIDE),
        padding="VALID",
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return out + params["conv/bias"]


def flatten_hwc(features):
    """Keras's Flatten: NHWC read in C order, (h, w, c)."""
    return features.reshape(features.shape[0], -1)


def flatten_chw(features):
    """torch's nn.Flatten on the same map laid out NCHW: (c, h, w)."""
    return jnp.transpose(features, (0, 3, 1, 2)).reshape(features.shape[0], -1)


def _dense(params, flat):
    return flat @ params["dense/kernel"] + params["dense/bias"]


def apply(params, x):
    """Keras's model: the Dense reads the (h, w, c) flatten its kernel's rows are laid out for. The logit (n, 1)."""
    return _dense(params, flatten_hwc(jax.nn.relu(conv(params, x))))


def apply_chw(params, x):
    """The port: the same weights, the Dense reading torch's (c, h, w) flatten, row i of the kernel against
    channels-first feature i."""
    return _dense(params, flatten_chw(jax.nn.relu(conv(params, x))))


def _layers(params, x, flatten):
    features = conv(params, x)
    relu = jax.nn.relu(features)
    return {"conv": features, "conv/relu": relu, "flatten": flatten(relu)}


def layers(params, x):
    """Each named layer's output in forward order (``Model.jax_layers``): the convolution (before its ReLU), the
    ReLU (Keras's ``Conv2D(activation="relu")`` output) and the Dense's input, ``flatten``, in the order of the
    kernel's rows it meets (Keras's Flatten output); then the Dense's logits."""
    return _layers(params, x, flatten_hwc)


def layers_chw(params, x):
    """The port's layer outputs: the same convolution, its ``flatten`` in (c, h, w) order, so row i of the
    kernel meets another feature than Keras's row i."""
    return _layers(params, x, flatten_chw)
