"""same-padding in JAX: initial weights, TensorFlow's SAME forward pass and the torch-style port's; the BCE
formulations its arms train with are the kit's (``kit/bce.py``, ``kit/losses.py``)."""

from __future__ import annotations

import jax

from paritybench.workloads.kit.bce import keras_clip as keras_clip
from paritybench.workloads.kit.bce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.bce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import conv2d, flat_dense
from paritybench.workloads.same_padding.workload import PARAMS, SIDE, STRIDE

# SAME on 28 with a 3x3 kernel at stride 2 is (0, 1) per axis; nn.Conv2d(padding=1) is (1, 1).
TORCH_PADDING = ((1, 1), (1, 1))


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def conv(params, x, padding):
    """The strided 3x3 convolution plus bias on flat 784-pixel rows, NHWC out (n, 14, 14, 8)."""
    return conv2d(params, x, SIDE, stride=STRIDE, padding=padding)


def _head(params, features):
    # jax.nn.relu, not jnp.maximum(features, 0): at exactly 0 the latter's gradient is 0.5 (a tie),
    # relu's is 0 as in Keras, TF and torch. With zero conv bias every all-background MNIST patch
    # gives exactly 0, so the tie decides the conv bias's gradient: measured 7.8e-3 apart from
    # Keras in conv/bias after one step at lr 0.5 with jnp.maximum, 3.7e-9 in the kernel.
    # Keras's Flatten on NHWC flattens (h, w, c) in C order, as flat_dense's reshape does.
    return flat_dense(params, jax.nn.relu(features))


def apply(params, x):
    """TensorFlow's SAME: ``lax.conv_general_dilated(padding="SAME")`` pads (0, 1). The logit (n, 1)."""
    return _head(params, conv(params, x, "SAME"))


def apply_torch_pad(params, x):
    """The torch-style port: the same weights, the convolution padded (1, 1) as ``padding=1`` does."""
    return _head(params, conv(params, x, TORCH_PADDING))


def _layers(params, x, padding):
    features = conv(params, x, padding)
    return {"conv": features, "conv/relu": jax.nn.relu(features)}


def layers(params, x):
    """Each named layer's output in forward order (``Model.jax_layers``): the convolution (before its ReLU) and
    the ReLU (Keras's ``Conv2D(activation="relu")`` output); then the Dense's logits."""
    return _layers(params, x, "SAME")


def layers_torch_pad(params, x):
    """The torch-style port's layer outputs: the same names, its convolution padded (1, 1)."""
    return _layers(params, x, TORCH_PADDING)
