"""seed-bce in JAX: stax's initial weights, the forward pass, and the five BCE formulations.

Each loss takes the model's *logit* z (the value before the sigmoid, shape (n, 1))
and the 0/1 label y, and returns the per-sample loss (n, 1); the arms average it
over the batch. Those that work on probabilities compute p = sigmoid(z)
themselves, exactly as a model with a sigmoid output layer hands p to its loss.

Why they differ, in float32: sigmoid(z) rounds to exactly 1.0 once z > ~16.6
(1 - 2**-24 is the last float32 below 1) and underflows towards 0 only much
later, so any loss that only sees p cannot tell a logit of 17 from one of 300.
- ``naive``: log(1 - p) = log(0) = -inf for a saturated positive sample whose
  label is 0: the loss is inf and its gradient NaN, which poisons every weight.
- clip-based (``seed_stable``, ``keras_clip``): clipping p to [eps, 1 - eps]
  makes the loss finite, but the clip's gradient is exactly zero outside the
  interval, so every saturated sample stops contributing to learning.
- ``logits``: log(sigmoid(z)) = log_sigmoid(z) is finite for every z and its
  gradient sigmoid(z) - y never vanishes for a misclassified sample.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from paritybench.workloads.seed_bce.workload import HIDDEN, INPUT_DIM

# Keras's backend.epsilon(): the clip both the JAX and torch backends apply to p.
KERAS_EPSILON = 1e-7


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """The one source of initial weights: stax's init at ``PRNGKey(seed)``.

    The seed experiment used ``jax.example_libraries.stax`` with the old
    (non-partitionable) threefry; JAX flipped that default in 0.5, which changes
    every random draw, so the setting is explicit and recorded.
    """
    from jax.example_libraries import stax  # late: a framework: loads after the numerics flags

    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", bool(threefry_partitionable))
    try:
        init_fun, _ = stax.serial(stax.Dense(HIDDEN), stax.Relu, stax.Dense(1), stax.Sigmoid)
        _, params = init_fun(jax.random.PRNGKey(seed), (-1, INPUT_DIM))
        (w0, b0), _, (w1, b1), _ = params
        return {
            "dense_0/kernel": np.asarray(w0),
            "dense_0/bias": np.asarray(b0),
            "dense_1/kernel": np.asarray(w1),
            "dense_1/bias": np.asarray(b1),
        }
    finally:
        jax.config.update("jax_threefry_partitionable", previous)


def apply(params, x):
    """784-1000-1, ReLU: the logit (the sigmoid is the head's)."""
    h = jnp.maximum(x @ params["dense_0/kernel"] + params["dense_0/bias"], 0)
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def layers(params, x):
    """Each named layer's output in forward order (``Model.jax_layers``): the first Dense's pre-activation and
    its ReLU (Keras's ``Dense(activation="relu")`` output); the second Dense's output is the logits."""
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    return {"dense_0": h, "dense_0/relu": jnp.maximum(h, 0)}


def naive(z: jax.Array, y: jax.Array) -> jax.Array:
    """The seed's first BCE on sigmoid outputs: -[y log p + (1-y) log(1-p)]."""
    p = jax.nn.sigmoid(z)
    return -(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))


def seed_stable(z: jax.Array, y: jax.Array) -> jax.Array:
    """The seed's "stable" BCE, verbatim in behaviour.

    It clips p to [1e-6, 0.9999999] (note the asymmetric bounds), turns p back
    into a logit, then applies TensorFlow's max-logit form of the logits loss.
    The clip bounds the recovered logit to about [-13.8, 16.1], and zeroes the
    gradient of every sample outside it.
    """
    y_hat = jax.nn.sigmoid(z)
    y_hat = jnp.clip(y_hat, 0.000001, 0.9999999)
    logits = jnp.log(y_hat / (1 - y_hat))
    max_logit = jnp.clip(logits, 0, None)
    return logits - logits * y + max_logit + jnp.log(jnp.exp(-max_logit) + jnp.exp(-logits - max_logit))


def keras_clip(z: jax.Array, y: jax.Array) -> jax.Array:
    """Keras 3's probability path (``keras/src/backend/jax/nn.py``), re-written.

    p is clipped to [eps, 1 - eps] with eps = 1e-7, then plain BCE. In float32
    1 - 1e-7 rounds to 0.99999988 (the clip bites for z > ~15.9); below, the
    clip bites for z < ~-16.1.
    """
    p = jnp.clip(jax.nn.sigmoid(z), KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    return -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))


@jax.custom_vjp
def torch_clip(p: jax.Array) -> jax.Array:
    """``torch.clip(p, eps, 1 - eps)``, with torch's gradient (shared with softmax-ce)."""
    return jnp.clip(p, KERAS_EPSILON, 1.0 - KERAS_EPSILON)


def _torch_clip_fwd(p):
    return torch_clip(p), p


def _torch_clip_bwd(p, g):
    # torch 2.15 (the version uv.lock pins) passes the clip's gradient only strictly inside
    # (eps, 1 - eps): measured, d clip / d p is 0 at p == 1 - eps (0.99999988 in float32, where
    # sigmoid lands for a band of logits near 16). jnp.clip splits it (0.5) on a tie; torch 2.11
    # (the H200 baseline's) passed it whole at the bounds. Which samples still learn differs.
    lo, hi = jnp.float32(KERAS_EPSILON), jnp.float32(1.0 - KERAS_EPSILON)
    return (jnp.where((p > lo) & (p < hi), g, 0.0),)


torch_clip.defvjp(_torch_clip_fwd, _torch_clip_bwd)


@jax.custom_vjp
def _torch_bce(out: jax.Array, y: jax.Array) -> jax.Array:
    # torch.nn.functional.binary_cross_entropy clamps each log at -100
    return -(y * jnp.maximum(jnp.log(out), -100.0) + (1.0 - y) * jnp.maximum(jnp.log1p(-out), -100.0))


def _torch_bce_fwd(out, y):
    return _torch_bce(out, y), (out, y)


def _torch_bce_bwd(res, g):
    out, y = res
    # torch's analytic backward: (out - y) / max(out (1 - out), 1e-12)
    return g * (out - y) / jnp.maximum(out * (1.0 - out), 1e-12), None


_torch_bce.defvjp(_torch_bce_fwd, _torch_bce_bwd)


def keras_torch_clip(z: jax.Array, y: jax.Array) -> jax.Array:
    """Keras 3's torch-backend path (``keras/src/backend/torch/nn.py``), re-written.

    Same clip as ``keras_clip``, but with torch's semantics: the clip's
    gradient is zero *at* the bounds (torch 2.15), and the BCE's gradient is
    torch's closed form rather than autodiff through the logs.
    """
    return _torch_bce(torch_clip(jax.nn.sigmoid(z)), y)


def logits(z: jax.Array, y: jax.Array) -> jax.Array:
    """BCE from logits (optax): max(z, 0) - z*y + log1p(exp(-|z|)), i.e.
    -[y log_sigmoid(z) + (1-y) log_sigmoid(-z)], finite and with a live gradient
    for every z. This is what Keras's TensorFlow backend computes, because its
    sigmoid output carries the logits (``_keras_logits``) to the loss."""
    return optax.sigmoid_binary_cross_entropy(z, y)
