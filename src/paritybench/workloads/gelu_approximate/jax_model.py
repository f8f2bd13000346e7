"""gelu-approximate in JAX: Keras's initial weights, the 784-64-10 GELU forward pass both ways, and the losses.

- ``apply`` (the fix, the reference's): ``jax.nn.gelu(h, approximate=False)``, ``x/2 erfc(-x/sqrt 2)``
  (``jax/_src/nn/functions.py``), the exact GELU that Keras's ``"gelu"`` and torch's ``nn.GELU()`` compute.
- ``apply_tanh`` (the literal port): ``jax.nn.gelu(h)``, whose default is ``approximate=True``.
"""

from __future__ import annotations

import jax

from paritybench.workloads.gelu_approximate.workload import PARAMS
from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.mlp import hidden_variant

__all__ = ["apply", "apply_tanh", "init", "layers", "layers_tanh"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def gelu_exact(h):
    """The exact GELU, as Keras's ``"gelu"`` and torch's ``nn.GELU()`` compute it."""
    return jax.nn.gelu(h, approximate=False)


def gelu_default(h):
    """``jax.nn.gelu`` as a port writes it: its default, the tanh approximation."""
    return jax.nn.gelu(h)


# the logits and the layer outputs, ``dense_0`` (pre-activation) and ``dense_0/gelu`` (the Keras Dense's output):
# with the exact GELU, and with ``jax.nn.gelu``'s default (tanh-approximate)
apply, layers = hidden_variant(gelu_exact, "gelu")
apply_tanh, layers_tanh = hidden_variant(gelu_default, "gelu")
