"""flatten-order in torch: the convolution channels-first, ``nn.Flatten``'s (c, h, w) order, and the Keras
kernel copied two ways.

- ``apply_literal``: the port, the Keras kernel copied into ``nn.Linear`` transposed only (here: used as it is in
  the declared (in, out) layout), so row ``i`` of Keras's (h, w, c) kernel meets torch's (c, h, w) feature ``i``.
- ``apply_permuted``: the fix, the kernel's rows permuted to (c, h, w) order (``kernel[PERM]``, the rule
  ``adapters.layouts.flatten_to_channels_first`` writes). Over the declared parameters the permutation is a
  gather in the forward pass; plain SGD moves each weight by its own gradient, so training the declared kernel
  through it is training the permuted one.

The declared conv kernel is Keras's (kh, kw, in, out); torch's conv weight is (out, in, kh, kw).
"""

from __future__ import annotations

import torch

from paritybench.workloads.flatten_order.workload import PERM, SIDE, STRIDE
from paritybench.workloads.kit.torch import bce_logits, conv2d

__all__ = ["apply_literal", "apply_permuted", "bce_logits", "conv", "layers", "layers_literal"]

_PERM = torch.as_tensor(PERM, dtype=torch.long)


def conv(params, x):
    """The "valid" strided convolution plus bias on flat 784-pixel rows, NCHW (n, 4, 13, 13), before its ReLU.
    (torch.relu's gradient at 0 is 0, as jax.nn.relu's.)"""
    return conv2d(params, x, SIDE, stride=STRIDE)


def _flatten(features):
    """``nn.Flatten()``: the NCHW map as it lies, (c, h, w)."""
    return features.reshape(features.shape[0], -1)


def apply_literal(params, x):
    """The port: torch's (c, h, w) flatten against the Keras kernel's (h, w, c) rows. The logit (n, 1)."""
    return _flatten(torch.relu(conv(params, x))) @ params["dense/kernel"] + params["dense/bias"]


def apply_permuted(params, x):
    """The fix: torch's (c, h, w) flatten against the kernel's rows permuted to (c, h, w). The logit (n, 1)."""
    return _flatten(torch.relu(conv(params, x))) @ params["dense/kernel"][_PERM] + params["dense/bias"]


def _layers(params, x, keras_order: bool):
    # conv and conv/relu NHWC, the declared (Keras's) layout, so that each element meets its twin in
    # jax_model.layers; flatten in the order of the declared kernel rows it meets
    features = conv(params, x)
    relu = torch.relu(features)
    flat = relu.permute(0, 2, 3, 1).reshape(x.shape[0], -1) if keras_order else _flatten(relu)
    return {"conv": features.permute(0, 2, 3, 1), "conv/relu": relu.permute(0, 2, 3, 1), "flatten": flat}


def layers(params, x):
    """The fix's layer outputs (``Model.torch_layers``, the twin of ``jax_model.layers``): ``flatten`` is the
    Dense's input in the declared kernel's row order; with the rows permuted that is Keras's (h, w, c)."""
    return _layers(params, x, True)


def layers_literal(params, x):
    """The port's layer outputs: ``flatten`` in (c, h, w) order, what each unpermuted kernel row meets."""
    return _layers(params, x, False)
