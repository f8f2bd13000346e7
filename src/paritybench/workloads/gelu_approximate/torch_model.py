"""gelu-approximate in torch: the 784-64-10 MLP over the declared (in, out) parameters with ``torch.nn.GELU``.

``torch.nn.GELU()`` defaults to ``approximate="none"`` (``torch/nn/modules/activation.py``), the exact
``x Phi(x)``, as Keras's ``"gelu"`` does (``apply``, twin of ``jax-gelu-exact``); ``approximate="tanh"`` is
``jax.nn.gelu``'s default formula (``apply_tanh``, twin of ``jax-gelu-literal``).
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.mlp import hidden_layers, hidden_logits
from paritybench.workloads.kit.torch import ce_logits

__all__ = ["apply", "apply_tanh", "ce_logits", "layers", "layers_tanh"]

_EXACT = torch.nn.GELU()  # the default a torch user writes
_TANH = torch.nn.GELU(approximate="tanh")


def _layers(params, x, act) -> dict:
    return hidden_layers(params, x, act, "gelu")


def _logits(params, x, act):
    return hidden_logits(params, x, act, "gelu")


def apply(params, x):
    """The logits with ``torch.nn.GELU()`` (exact)."""
    return _logits(params, x, _EXACT)


def apply_tanh(params, x):
    """The logits with ``torch.nn.GELU(approximate="tanh")``."""
    return _logits(params, x, _TANH)


def layers(params, x):
    """``dense_0`` and ``dense_0/gelu`` with the exact GELU (``Model.torch_layers``)."""
    return _layers(params, x, _EXACT)


def layers_tanh(params, x):
    """``layers`` with the tanh-approximate GELU."""
    return _layers(params, x, _TANH)
