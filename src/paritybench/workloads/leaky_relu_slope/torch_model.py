"""leaky-relu-slope in torch: the 784-64-10 MLP over the declared (in, out) parameters with ``torch.nn.LeakyReLU``.

``torch.nn.LeakyReLU()`` defaults to ``negative_slope=0.01`` (``torch/nn/modules/activation.py``), JAX's
default too (``apply_port``, twin of ``jax-leaky-literal``); ``LeakyReLU(0.3)`` is Keras's layer
(``apply``, twin of ``jax-leaky-keras``).
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.mlp import hidden_layers, hidden_logits
from paritybench.workloads.kit.torch import ce_logits
from paritybench.workloads.leaky_relu_slope.workload import KERAS_LAYER_SLOPE

__all__ = ["apply", "apply_port", "ce_logits", "layers", "layers_port"]

_PORT = torch.nn.LeakyReLU()  # the default a torch user writes
_KERAS = torch.nn.LeakyReLU(KERAS_LAYER_SLOPE)


def _layers(params, x, act) -> dict:
    return hidden_layers(params, x, act, "leaky_relu")


def _logits(params, x, act):
    return hidden_logits(params, x, act, "leaky_relu")


def apply(params, x):
    """The logits with ``torch.nn.LeakyReLU(0.3)``."""
    return _logits(params, x, _KERAS)


def apply_port(params, x):
    """The logits with ``torch.nn.LeakyReLU()`` (0.01)."""
    return _logits(params, x, _PORT)


def layers(params, x):
    """``dense_0`` and ``dense_0/leaky_relu`` at slope 0.3 (``Model.torch_layers``)."""
    return _layers(params, x, _KERAS)


def layers_port(params, x):
    """``layers`` at slope 0.01."""
    return _layers(params, x, _PORT)
