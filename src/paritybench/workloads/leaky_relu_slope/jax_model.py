"""leaky-relu-slope in JAX: Keras's initial weights and the 784-64-10 leaky-ReLU forward pass at each slope.

- ``apply`` (the fix, the reference's): ``jax.nn.leaky_relu(h, negative_slope=0.3)``, Keras's ``LeakyReLU()``;
- ``apply_port`` (the literal port): ``jax.nn.leaky_relu(h)``, JAX's default slope 0.01;
- ``apply_activation``: slope 0.2, Keras's ``Dense(activation="leaky_relu")``.
"""

from __future__ import annotations

from functools import partial

import jax
import numpy as np

from paritybench.workloads.kit.init import glorot_uniform
from paritybench.workloads.kit.losses import ce_keras_clip as keras_clip
from paritybench.workloads.kit.losses import ce_keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.losses import ce_logits as logits
from paritybench.workloads.kit.mlp import hidden_layers, hidden_logits
from paritybench.workloads.leaky_relu_slope.workload import KERAS_ACTIVATION_SLOPE, KERAS_LAYER_SLOPE, PARAMS

__all__ = [
    "apply",
    "apply_activation",
    "apply_port",
    "init",
    "keras_clip",
    "keras_torch_clip",
    "layers",
    "layers_activation",
    "layers_port",
    "logits",
]


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """Keras's Dense defaults (glorot_uniform kernels, zero biases) drawn from NumPy's generator at ``seed``.

    JAX's PRNG is not involved, so ``threefry_partitionable`` changes nothing here."""
    return glorot_uniform(PARAMS, seed)


def port_activation(h):
    """``jax.nn.leaky_relu`` as a port writes it: its default slope (0.01)."""
    return jax.nn.leaky_relu(h)


def _layers(params, x, act) -> dict:
    return hidden_layers(params, x, act, "leaky_relu")


def _logits(params, x, act):
    return hidden_logits(params, x, act, "leaky_relu")


_KERAS_LAYER = partial(jax.nn.leaky_relu, negative_slope=KERAS_LAYER_SLOPE)
_KERAS_ACTIVATION = partial(jax.nn.leaky_relu, negative_slope=KERAS_ACTIVATION_SLOPE)


def apply(params, x):
    """The logits with Keras's ``LeakyReLU()`` slope, 0.3."""
    return _logits(params, x, _KERAS_LAYER)


def apply_port(params, x):
    """The logits with ``jax.nn.leaky_relu``'s default slope, 0.01."""
    return _logits(params, x, port_activation)


def apply_activation(params, x):
    """The logits with ``keras.activations.leaky_relu``'s default slope, 0.2."""
    return _logits(params, x, _KERAS_ACTIVATION)


def layers(params, x):
    """``dense_0`` (pre-activation) and ``dense_0/leaky_relu`` (the Keras LeakyReLU layer's output), slope 0.3."""
    return _layers(params, x, _KERAS_LAYER)


def layers_port(params, x):
    """``layers`` at the port's slope, 0.01."""
    return _layers(params, x, port_activation)


def layers_activation(params, x):
    """``layers`` at slope 0.2."""
    return _layers(params, x, _KERAS_ACTIVATION)
