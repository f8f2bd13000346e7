"""flatten-order in JAX: initial weights, Keras's (h, w, c) forward pass and the port's (c, h, w) one; the BCE
formulations its arms train with are the kit's (``kit/bce.py``, ``kit/losses.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from paritybench.workloads.flatten_order.workload import PARAMS, SIDE, STRIDE
from paritybench.workloads.kit.bce import keras_clip as keras_clip
from paritybench.workloads.kit.bce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.bce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import conv2d, flat_dense

init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def conv(params, x):
    """The strided 3x3 "valid" convolution plus bias on flat 784-pixel rows: NHWC (n, 13, 13, 4), before its ReLU.
    (jax.nn.relu: its gradient at exactly 0 is 0, as Keras's and torch's; jnp.maximum's is 0.5.)"""
    return conv2d(params, x, SIDE, stride=STRIDE)


def flatten_hwc(features):
    """Keras's Flatten: NHWC read in C order, (h, w, c)."""
    return features.reshape(features.shape[0], -1)


def flatten_chw(features):
    """torch's nn.Flatten on the same map laid out NCHW: (c, h, w)."""
    return jnp.transpose(features, (0, 3, 1, 2)).reshape(features.shape[0], -1)


def apply(params, x):
    """Keras's model: the Dense reads the (h, w, c) flatten its kernel's rows are laid out for. The logit (n, 1)."""
    return flat_dense(params, jax.nn.relu(conv(params, x)))


def apply_chw(params, x):
    """The port: the same weights, the Dense reading torch's (c, h, w) flatten, row i of the kernel against
    channels-first feature i."""
    return flat_dense(params, flatten_chw(jax.nn.relu(conv(params, x))))


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
