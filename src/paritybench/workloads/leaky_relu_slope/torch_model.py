"""leaky-relu-slope in torch: the 784-64-10 MLP over the declared (in, out) parameters with ``torch.nn.LeakyReLU``.

``torch.nn.LeakyReLU()`` defaults to ``negative_slope=0.01`` (``torch/nn/modules/activation.py``), JAX's
default too (``apply_port``, twin of ``jax-leaky-literal``); ``LeakyReLU(0.3)`` is Keras's layer
(``apply``, twin of ``jax-leaky-keras``).
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.mlp import hidden_variant
from paritybench.workloads.kit.torch import ce_logits
from paritybench.workloads.leaky_relu_slope.workload import KERAS_LAYER_SLOPE

__all__ = ["apply", "apply_port", "ce_logits", "layers", "layers_port"]

_PORT = torch.nn.LeakyReLU()  # the default a torch user writes
_KERAS = torch.nn.LeakyReLU(KERAS_LAYER_SLOPE)


# the logits and ``dense_0``, ``dense_0/leaky_relu`` (``Model.torch_layers``): at slope 0.3, and at 0.01
apply, layers = hidden_variant(_KERAS, "leaky_relu")
apply_port, layers_port = hidden_variant(_PORT, "leaky_relu")
