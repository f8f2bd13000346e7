"""pool-padding in torch: the cropped ReLU convolution channels-first, then the 3x3 stride-2 average two ways.

- ``apply_pad1``: the port, ``F.avg_pool2d(3, stride=2, padding=1)`` as ``nn.AvgPool2d(3, 2, padding=1)`` does
  with its default ``count_include_pad=True``: padded (1, 1), every window over 9.
- ``apply_exclude``: TensorFlow's SAME written in torch: ``F.pad(x, (0, 1, 0, 1))`` (zeros), the window sums
  (``avg_pool2d`` times 9) over the count of real cells (the same sums of a padded map of ones).

The declared conv kernel is Keras's (kh, kw, in, out); torch's conv weight is (out, in, kh, kw). The pooled map
is flattened in Keras's NHWC (h, w, c) order so that the declared dense kernel reads the same features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from paritybench.workloads.kit.torch import bce_logits, conv2d, nhwc_dense
from paritybench.workloads.pool_padding.workload import CROP, POOL, POOL_STRIDE, SIDE

__all__ = ["apply_exclude", "apply_pad1", "bce_logits", "conv", "layers", "layers_pad1", "pool_exclude", "pool_pad1"]

_CELLS = POOL * POOL


def conv(params, x):
    """The central 20x20 of flat 784-pixel rows, the "valid" 3x3 convolution plus bias and its ReLU, NCHW
    (n, 4, 18, 18). (torch.relu's gradient at 0 is 0, as jax.nn.relu's.)"""
    return torch.relu(conv2d(params, x, SIDE, crop=CROP))


def pool_pad1(features):
    """``nn.AvgPool2d(3, stride=2, padding=1)`` with its defaults (``count_include_pad=True``)."""
    return F.avg_pool2d(features, POOL, stride=POOL_STRIDE, padding=1)


def pool_exclude(features):
    """TensorFlow's SAME: zero-pad (0, 1), each window's sum over its count of real cells."""
    sums = F.avg_pool2d(F.pad(features, (0, 1, 0, 1)), POOL, stride=POOL_STRIDE) * _CELLS
    ones = torch.ones((1, 1, *features.shape[2:]), dtype=features.dtype)
    counts = F.avg_pool2d(F.pad(ones, (0, 1, 0, 1)), POOL, stride=POOL_STRIDE) * _CELLS
    return sums / counts


def apply_pad1(params, x):
    """The torch port. The logit (n, 1)."""
    return nhwc_dense(params, pool_pad1(conv(params, x)))


def apply_exclude(params, x):
    """The fix in torch. The logit (n, 1)."""
    return nhwc_dense(params, pool_exclude(conv(params, x)))


def _layers(params, x, pool):
    # NHWC, the declared (Keras's) layout, so that each element meets its twin in jax_model.layers
    features = conv(params, x)
    return {"conv/relu": features.permute(0, 2, 3, 1), "pool": pool(features).permute(0, 2, 3, 1)}


def layers(params, x):
    """The fix's layer outputs (``Model.torch_layers``, the twin of ``jax_model.layers``), NHWC."""
    return _layers(params, x, pool_exclude)


def layers_pad1(params, x):
    """The port's layer outputs: the windows padded (1, 1), over 9."""
    return _layers(params, x, pool_pad1)
