"""The MLP in JAX: stax's initial draw, the forward pass over ``dense_i/kernel|bias`` and its named layers.

``activation`` names the hidden layers' nonlinearity, and the name matters at exactly 0:
- ``"maximum"``: ``jnp.maximum(h, 0)``, the seed's ReLU. Its gradient at h == 0 is 0.5 (JAX splits a tie),
  kept where a workload's committed baselines were trained with it;
- ``"relu"``: ``jax.nn.relu``, gradient 0 at h == 0 as in Keras, TensorFlow and torch;
- ``"tanh"``: ``jnp.tanh``, smooth, so float32 rounding stays at ~1e-7 over the steps.

Beside it the BatchNormalization MLP (``batchnorm``, ``bn_mlp``) and the small image classifier's layers
(``kit.conv``): ``conv2d`` on flat pixel rows and ``flat_dense``.
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


def conv2d(params, x, side: int, *, stride: int = 1, padding="VALID", crop: int = 0):
    """Keras's ``Reshape((side, side, 1))`` [+ ``Cropping2D(crop)``] + ``Conv2D`` on flat ``side * side`` pixel
    rows: ``conv/kernel`` (HWIO) plus ``conv/bias``, NHWC out, before any activation. ``padding``: lax's
    ("VALID", "SAME" or explicit (lo, hi) pairs)."""
    images = x.reshape(-1, side, side, 1)
    if crop:
        images = images[:, crop : side - crop, crop : side - crop, :]
    out = lax.conv_general_dilated(
        images,
        params["conv/kernel"],
        window_strides=(stride, stride),
        padding=padding,
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    return out + params["conv/bias"]


def flat_dense(params, features):
    """Keras's ``Flatten`` + ``Dense`` (no activation): the NHWC map read in C order, (h, w, c), against
    ``dense/kernel``'s rows."""
    return features.reshape(features.shape[0], -1) @ params["dense/kernel"] + params["dense/bias"]


def batchnorm(
    h, gamma, beta, mean_avg, var_avg, *, training: bool, keep: float, eps: float, unbiased_running_var: bool = False
):
    """One BatchNormalization over axis 0: (output, new moving mean, new moving variance).

    ``keep`` is the share of the old moving average kept per update (Keras's ``momentum``; torch's is
    ``1 - momentum``). The output always uses the biased batch variance (Keras, flax and torch alike);
    ``unbiased_running_var`` makes the moving variance take ``var * n / (n - 1)``, as torch's does.
    """
    if training:
        mean = jnp.mean(h, axis=0)
        var = jnp.var(h, axis=0)
        n = h.shape[0]
        var_for_avg = var * (n / (n - 1)) if unbiased_running_var else var
        new_mean = mean_avg * keep + mean * (1.0 - keep)
        new_var = var_avg * keep + var_for_avg * (1.0 - keep)
    else:
        mean, var, new_mean, new_var = mean_avg, var_avg, mean_avg, var_avg
    inv = jax.lax.rsqrt(var + eps) * gamma
    return h * inv + (beta - mean * inv), new_mean, new_var


def bn_mlp(params, x, state, training: bool, initial, **bn):
    """The MLP of ``kit.mlp.bn_params``: ``dense_0``, ``batchnorm`` (``bn``: its ``keep``, ``eps``, ...), the
    seed's ReLU ``jnp.maximum``, ``dense_1``. ``(logits, new state)``; ``state`` None starts from ``initial``,
    ``(kit.mlp.bn_state's shapes, initial values)``."""
    if state is None:
        shapes, values = initial
        state = {k: jnp.full(s, values[k], x.dtype) for k, s in shapes.items()}
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    h, m, v = batchnorm(
        h,
        params["bn/gamma"],
        params["bn/beta"],
        state["bn/moving_mean"],
        state["bn/moving_variance"],
        training=training,
        **bn,
    )
    h = jnp.maximum(h, 0)
    z = h @ params["dense_1/kernel"] + params["dense_1/bias"]
    # the moving statistics are state, not parameters: no gradient flows into them
    return z, {"bn/moving_mean": jax.lax.stop_gradient(m), "bn/moving_variance": jax.lax.stop_gradient(v)}
