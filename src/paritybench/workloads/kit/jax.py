"""The MLP in JAX: stax's initial draw, the forward pass over ``dense_i/kernel|bias`` and its named layers.

``activation`` names the hidden layers' nonlinearity, and the name matters at exactly 0:
- ``"maximum"``: ``jnp.maximum(h, 0)``, the seed's ReLU. Its gradient at h == 0 is 0.5 (JAX splits a tie),
  kept where a workload's committed baselines were trained with it;
- ``"relu"``: ``jax.nn.relu``, gradient 0 at h == 0 as in Keras, TensorFlow and torch;
- ``"tanh"``: ``jnp.tanh``, smooth, so float32 rounding stays at ~1e-7 over the steps.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

ACTIVATIONS: dict[str, Callable] = {
    "maximum": lambda h: jnp.maximum(h, 0),
    "relu": jax.nn.relu,
    "tanh": jnp.tanh,
}


def stax_init(
    sizes: tuple[int, ...], seed: int, threefry_partitionable: bool = False, *, trailing_sigmoid: bool = False
) -> dict[str, np.ndarray]:
    """stax's ``serial(Dense, Relu, ..., Dense[, Sigmoid])`` init at ``PRNGKey(seed)``, as ``dense_params(sizes)``.

    The seed experiment used ``jax.example_libraries.stax`` with the old (non-partitionable) threefry; JAX
    flipped that default in 0.5, which changes every random draw, so the setting is explicit and recorded.
    ``trailing_sigmoid``: the seed's serial ends in a ``Sigmoid`` layer, and ``serial`` splits its key once
    per layer, so the draws depend on it even though the layer has no parameters.
    """
    from jax.example_libraries import stax  # late: a framework: loads after the numerics flags

    layers: list = []
    for width in sizes[1:-1]:
        layers += [stax.Dense(width), stax.Relu]
    layers.append(stax.Dense(sizes[-1]))
    if trailing_sigmoid:
        layers.append(stax.Sigmoid)
    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", bool(threefry_partitionable))
    try:
        init_fun, _ = stax.serial(*layers)
        _, params = init_fun(jax.random.PRNGKey(seed), (-1, sizes[0]))
        dense = [p for p in params if p]  # Relu and Sigmoid hold ()
        out = {}
        for i, (w, b) in enumerate(dense):
            out[f"dense_{i}/kernel"], out[f"dense_{i}/bias"] = np.asarray(w), np.asarray(b)
        return out
    finally:
        jax.config.update("jax_threefry_partitionable", previous)


def _depth(params) -> int:
    return sum(1 for k in params if k.startswith("dense_") and k.endswith("/kernel"))


def _dense(params, h, i: int, precision):
    k, b = params[f"dense_{i}/kernel"], params[f"dense_{i}/bias"]
    # An explicit Precision is not overridden by jax_default_matmul_precision (jax/_src/lax/lax.py
    # canonicalize_precision: only None reads it); None keeps ``h @ k``, the process's default.
    return (h @ k if precision is None else lax.dot(h, k, precision=precision)) + b


def mlp(params, x, activation: str = "maximum", precision: lax.Precision | None = None):
    """The logits: every ``dense_i`` but the last followed by ``activation``; the head's activation is not
    applied (the loss or the head takes the logits)."""
    act = ACTIVATIONS[activation]
    depth = _depth(params)
    h = x
    for i in range(depth - 1):
        h = act(_dense(params, h, i, precision))
    return _dense(params, h, depth - 1, precision)


def mlp_layers(params, x, activation: str = "maximum", suffix: str | None = None):
    """Each named layer's output in forward order (``Model.jax_layers``): per hidden layer, its
    pre-activation ``dense_i`` and ``dense_i/<suffix>`` (Keras's ``Dense(activation=...)`` output; ``suffix``
    defaults to ``"relu"`` for either ReLU); the last Dense's output is the logits."""
    act = ACTIVATIONS[activation]
    suffix = suffix or ("tanh" if activation == "tanh" else "relu")
    out, h = {}, x
    for i in range(_depth(params) - 1):
        out[f"dense_{i}"] = pre = _dense(params, h, i, None)
        out[f"dense_{i}/{suffix}"] = h = act(pre)
    return out


def maximum_mlp(params, x):
    """``mlp`` with the seed's ReLU, ``jnp.maximum(h, 0)``: the logits."""
    return mlp(params, x, "maximum")


def maximum_layers(params, x):
    """``mlp_layers`` with the seed's ReLU: ``dense_i`` and ``dense_i/relu`` per hidden layer."""
    return mlp_layers(params, x, "maximum")


def tanh_mlp(params, x):
    """``mlp`` with tanh hidden layers: the logits."""
    return mlp(params, x, "tanh")


def tanh_layers(params, x):
    """``mlp_layers`` with tanh: ``dense_i`` and ``dense_i/tanh`` per hidden layer."""
    return mlp_layers(params, x, "tanh")
