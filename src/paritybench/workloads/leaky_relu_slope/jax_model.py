"""leaky-relu-slope in JAX: Keras's initial weights and the 784-64-10 leaky-ReLU forward pass at each slope.

- ``apply`` (the fix, the reference's): ``jax.nn.leaky_relu(h, negative_slope=0.3)``, Keras's ``LeakyReLU()``;
- ``apply_port`` (the literal port): ``jax.nn.leaky_relu(h)``, JAX's default slope 0.01;
- ``apply_activation``: slope 0.2, Keras's ``Dense(activation="leaky_relu")``.
"""

from __future__ import annotations

from functools import partial

import jax

from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.mlp import hidden_variant
from paritybench.workloads.leaky_relu_slope.workload import KERAS_ACTIVATION_SLOPE, KERAS_LAYER_SLOPE, PARAMS

__all__ = ["apply", "apply_activation", "apply_port", "init", "layers", "layers_activation", "layers_port"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def port_activation(h):
    """``jax.nn.leaky_relu`` as a port writes it: its default slope (0.01)."""
    return jax.nn.leaky_relu(h)


_KERAS_LAYER = partial(jax.nn.leaky_relu, negative_slope=KERAS_LAYER_SLOPE)
_KERAS_ACTIVATION = partial(jax.nn.leaky_relu, negative_slope=KERAS_ACTIVATION_SLOPE)

# the logits and the layer outputs, ``dense_0`` (pre-activation) and ``dense_0/leaky_relu`` (the Keras LeakyReLU
# layer's output): at Keras's ``LeakyReLU()`` slope 0.3, jax.nn.leaky_relu's default 0.01, and
# ``keras.activations.leaky_relu``'s default 0.2
apply, layers = hidden_variant(_KERAS_LAYER, "leaky_relu")
apply_port, layers_port = hidden_variant(port_activation, "leaky_relu")
apply_activation, layers_activation = hidden_variant(_KERAS_ACTIVATION, "leaky_relu")
