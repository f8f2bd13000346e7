"""gelu-approximate in torch: the 784-64-10 MLP over the declared (in, out) parameters with ``torch.nn.GELU``.

``torch.nn.GELU()`` defaults to ``approximate="none"`` (``torch/nn/modules/activation.py``), the exact
``x Phi(x)``, as Keras's ``"gelu"`` does (``apply``, twin of ``jax-gelu-exact``); ``approximate="tanh"`` is
``jax.nn.gelu``'s default formula (``apply_tanh``, twin of ``jax-gelu-literal``).
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.mlp import hidden_variant
from paritybench.workloads.kit.torch import ce_logits

__all__ = ["apply", "apply_tanh", "ce_logits", "layers", "layers_tanh"]

_EXACT = torch.nn.GELU()  # the default a torch user writes
_TANH = torch.nn.GELU(approximate="tanh")


# the logits and ``dense_0``, ``dense_0/gelu`` (``Model.torch_layers``): exact, and tanh-approximate
apply, layers = hidden_variant(_EXACT, "gelu")
apply_tanh, layers_tanh = hidden_variant(_TANH, "gelu")
