"""softmax-ce in JAX: stax's initial weights, the forward pass, and four categorical CE formulations.

Each loss takes the ten logits z (n, 10) and one-hot labels y (n, 10) and returns the
per-sample loss (n,). As for the sigmoid, a loss that only sees the softmax output
cannot tell a probability that rounded to 0 from a small one: on raw pixels 87% of
samples start with a true-class probability below 1e-7 (measured, README).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from paritybench.workloads.seed_bce.jax_model import KERAS_EPSILON, torch_clip
from paritybench.workloads.softmax_ce.workload import CLASSES, HIDDEN, INPUT_DIM


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """stax's Dense/Relu/Dense init at ``PRNGKey(seed)``, as for the seed workload (old threefry unless told)."""
    from jax.example_libraries import stax  # late: a framework: loads after the numerics flags

    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", bool(threefry_partitionable))
    try:
        init_fun, _ = stax.serial(stax.Dense(HIDDEN), stax.Relu, stax.Dense(CLASSES))
        _, params = init_fun(jax.random.PRNGKey(seed), (-1, INPUT_DIM))
        (w0, b0), _, (w1, b1) = params
        return {
            "dense_0/kernel": np.asarray(w0),
            "dense_0/bias": np.asarray(b0),
            "dense_1/kernel": np.asarray(w1),
            "dense_1/bias": np.asarray(b1),
        }
    finally:
        jax.config.update("jax_threefry_partitionable", previous)


def apply(params, x):
    """784-1000-10, ReLU: the ten logits (the softmax is the head's)."""
    h = jnp.maximum(x @ params["dense_0/kernel"] + params["dense_0/bias"], 0)
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def layers(params, x):
    """Each named layer's output in forward order (``Model.jax_layers``): the first Dense's pre-activation and
    its ReLU (Keras's ``Dense(activation="relu")`` output); the second Dense's output is the logits."""
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    return {"dense_0": h, "dense_0/relu": jnp.maximum(h, 0)}


def naive(z, y):
    """The literal port: -sum(y log softmax(z)). log(0) = -inf where a probability underflows,
    and 0 * -inf = NaN even for the classes the label does not name."""
    return -jnp.sum(y * jnp.log(jax.nn.softmax(z)), axis=-1)


def keras_clip(z, y):
    """Keras 3's JAX backend (``keras/src/backend/jax/nn.py`` categorical_crossentropy, from_logits=False):
    the softmax output divided by its sum, clipped to [eps, 1 - eps] (eps = 1e-7), then -sum(y log p).
    The clip's gradient is zero outside the interval: every sample whose true class has p < 1e-7 stops
    learning."""
    p = jax.nn.softmax(z)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    p = jnp.clip(p, KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    return -jnp.sum(y * jnp.log(p), axis=-1)


def keras_torch_clip(z, y):
    """Keras 3's torch backend (``keras/src/backend/torch/nn.py``): the same formula with torch's clamp,
    whose gradient passes at the bounds (``seed_bce.jax_model.torch_clip``)."""
    p = jax.nn.softmax(z)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    return -jnp.sum(y * jnp.log(torch_clip(p)), axis=-1)


def logits(z, y):
    """CE from logits (optax): logsumexp(z) - z_y, finite for every z. Keras's TensorFlow backend
    computes this, because its softmax output carries the logits (``_keras_logits``) to the loss."""
    return optax.softmax_cross_entropy(z, y)
