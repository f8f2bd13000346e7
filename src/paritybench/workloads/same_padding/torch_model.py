"""same-padding in torch: the strided 3x3 convolution padded the torch way and TensorFlow's way.

- ``apply_pad1``: the port, ``F.conv2d(stride=2, padding=1)`` as ``nn.Conv2d(1, 8, 3, stride=2, padding=1)``
  does (torch refuses ``padding="same"`` with a stride): pads (1, 1) on both axes.
- ``apply_same``: TensorFlow's SAME written in torch, ``F.pad(x, (0, 1, 0, 1))`` then a ``padding=0``
  convolution: (0, 1), as Keras's torch backend does in ``_apply_same_padding``.

The declared kernel is Keras's (kh, kw, in, out); torch's conv weight is (out, in, kh, kw). The features are
flattened in Keras's NHWC (h, w, c) order so that the declared dense kernel reads the same features.
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.torch import bce_logits, conv2d, nhwc_dense
from paritybench.workloads.same_padding.workload import SIDE, STRIDE

__all__ = ["apply_pad1", "apply_same", "bce_logits", "conv", "layers", "layers_pad1"]


def _head(params, features):
    # relu's gradient at exactly 0 is 0 in torch, as in jax.nn.relu and Keras (see jax_model._head)
    return nhwc_dense(params, torch.relu(features))


def conv(params, x, padding: int, pad_input: tuple[int, ...] | None = None):
    """The convolution plus bias on flat 784-pixel rows, NCHW out (n, 8, 14, 14)."""
    return conv2d(params, x, SIDE, stride=STRIDE, padding=padding, pad_input=pad_input)


def apply_pad1(params, x):
    """The torch-style port: ``padding=1``, i.e. (1, 1) on both axes. The logit (n, 1)."""
    return _head(params, conv(params, x, 1))


def apply_same(params, x):
    """TensorFlow's SAME in torch: one pixel of padding at the end of each axis, (0, 1). The logit (n, 1)."""
    return _head(params, conv(params, x, 0, pad_input=(0, 1, 0, 1)))


def _layers(features):
    # NHWC, the declared (Keras's) layout, so that each element meets its twin in jax_model.layers
    nhwc = features.permute(0, 2, 3, 1)
    return {"conv": nhwc, "conv/relu": torch.relu(nhwc)}


def layers(params, x):
    """Each named layer's output in forward order (``Model.torch_layers``, the twin of ``jax_model.layers``):
    the convolution with TensorFlow's SAME (before its ReLU) and the ReLU, NHWC (n, 14, 14, 8)."""
    return _layers(conv(params, x, 0, pad_input=(0, 1, 0, 1)))


def layers_pad1(params, x):
    """The port's layer outputs: the same names, its convolution padded (1, 1)."""
    return _layers(conv(params, x, 1))
