"""The loss formulations the workloads compare, written in JAX: what each framework's loss computes.

Every loss takes the model's logits z and the labels y and returns the per-sample loss; the arms average it.
Those that work on probabilities compute p from z themselves, exactly as a model with a sigmoid or softmax
output layer hands p to its loss.

Why they differ, in float32: sigmoid(z) rounds to exactly 1.0 once z > ~16.6 (1 - 2**-24 is the last
float32 below 1) and underflows towards 0 only much later, so any loss that only sees p cannot tell a logit
of 17 from one of 300. A softmax output likewise rounds a small true-class probability to 0 (on raw pixels
899 of the 1000 samples of the ten-class preset start with a true-class probability below 1e-7, and the clip
gives 939 of them no gradient at all: seed 0, window 0; ``tools/claims.py``, ``results/claims/claims.json``).
- ``*_naive``: log(p) = log(0) = -inf for a saturated sample: the loss is inf and its gradient NaN, which
  poisons every weight.
- clip-based (``bce_seed_stable``, ``*_keras_clip``, ``*_keras_torch_clip``): clipping p to [eps, 1 - eps]
  makes the loss finite, but the clip's gradient is exactly zero outside the interval, so every saturated
  sample stops contributing to learning.
- ``*_logits``: log(sigmoid(z)) = log_sigmoid(z) is finite for every z and its gradient sigmoid(z) - y never
  vanishes for a misclassified sample. Keras's TensorFlow backend computes this, because its sigmoid or
  softmax output carries the logits (``_keras_logits``) to the loss.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

# Keras's backend.epsilon(): the clip both the JAX and torch backends apply to p.
KERAS_EPSILON = 1e-7


def bce_naive(z: jax.Array, y: jax.Array) -> jax.Array:
    """The seed's first BCE on sigmoid outputs: -[y log p + (1-y) log(1-p)]."""
    p = jax.nn.sigmoid(z)
    return -(y * jnp.log(p) + (1 - y) * jnp.log(1 - p))


def bce_seed_stable(z: jax.Array, y: jax.Array) -> jax.Array:
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


def bce_keras_clip(z: jax.Array, y: jax.Array) -> jax.Array:
    """Keras 3's probability path (``keras/src/backend/jax/nn.py``), re-written.

    p is clipped to [eps, 1 - eps] with eps = 1e-7, then plain BCE. In float32
    1 - 1e-7 rounds to 0.99999988 (the clip bites for z > ~15.9); below, the
    clip bites for z < ~-16.1.
    """
    p = jnp.clip(jax.nn.sigmoid(z), KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    return -(y * jnp.log(p) + (1.0 - y) * jnp.log(1.0 - p))


@jax.custom_vjp
def torch_clip(p: jax.Array) -> jax.Array:
    """``torch.clip(p, eps, 1 - eps)``, with torch's gradient."""
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


def bce_keras_torch_clip(z: jax.Array, y: jax.Array) -> jax.Array:
    """Keras 3's torch-backend path (``keras/src/backend/torch/nn.py``), re-written.

    Same clip as ``bce_keras_clip``, but with torch's semantics: the clip's
    gradient is zero *at* the bounds (torch 2.15), and the BCE's gradient is
    torch's closed form rather than autodiff through the logs.
    """
    return _torch_bce(torch_clip(jax.nn.sigmoid(z)), y)


def bce_logits(z: jax.Array, y: jax.Array) -> jax.Array:
    """BCE from logits (optax): max(z, 0) - z*y + log1p(exp(-|z|)), i.e.
    -[y log_sigmoid(z) + (1-y) log_sigmoid(-z)], finite and with a live gradient
    for every z."""
    return optax.sigmoid_binary_cross_entropy(z, y)


def ce_naive(z, y):
    """The literal port: -sum(y log softmax(z)). log(0) = -inf where a probability underflows,
    and 0 * -inf = NaN even for the classes the label does not name."""
    return -jnp.sum(y * jnp.log(jax.nn.softmax(z)), axis=-1)


def ce_keras_clip(z, y):
    """Keras 3's JAX backend (``keras/src/backend/jax/nn.py`` categorical_crossentropy, from_logits=False):
    the softmax output divided by its sum, clipped to [eps, 1 - eps] (eps = 1e-7), then -sum(y log p).
    The clip's gradient is zero outside the interval: every sample whose true class has p < 1e-7 stops
    learning."""
    p = jax.nn.softmax(z)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    p = jnp.clip(p, KERAS_EPSILON, 1.0 - KERAS_EPSILON)
    return -jnp.sum(y * jnp.log(p), axis=-1)


def ce_keras_torch_clip(z, y):
    """Keras 3's torch backend (``keras/src/backend/torch/nn.py``): the same formula with torch's clamp,
    whose gradient is zero at the bounds (``torch_clip``)."""
    p = jax.nn.softmax(z)
    p = p / jnp.sum(p, axis=-1, keepdims=True)
    return -jnp.sum(y * jnp.log(torch_clip(p)), axis=-1)


def ce_logits(z, y):
    """CE from logits (optax): logsumexp(z) - z_y, finite for every z."""
    return optax.softmax_cross_entropy(z, y)


# Regression losses, for a linear head (``Model(head="linear")``): the model's outputs are its predictions.
# Each averages over the last axis per sample, as Keras's ``mean_squared_error`` and ``huber`` do
# (``keras/src/losses/losses.py``: ``ops.mean(..., axis=-1)``), so a target of shape (n, k) gives one loss
# per sample; a target of shape (n,) has no such axis (``_per_sample``).


def _per_sample(e: jax.Array) -> jax.Array:
    """Mean over every axis but the batch's: (n,) stays (n,), (n, k) -> (n,)."""
    return e if e.ndim == 1 else jnp.mean(e.reshape(e.shape[0], -1), axis=-1)


def mse(z: jax.Array, y: jax.Array) -> jax.Array:
    """Mean squared error per sample, mean((z - y)^2) over the outputs: Keras's ``mean_squared_error``
    (``ops.mean(ops.square(y_true - y_pred), axis=-1)``) and torch's ``F.mse_loss`` per element."""
    return _per_sample(jnp.square(z - y))


def huber(z: jax.Array, y: jax.Array, delta: float = 1.0) -> jax.Array:
    """Huber loss per sample: 0.5 e^2 where |e| <= delta, else delta |e| - 0.5 delta^2 (e = z - y), averaged
    over the outputs: optax's ``huber_loss`` (0.5 min(|e|, delta)^2 + delta (|e| - min(|e|, delta)), the same
    function) averaged as Keras's ``huber`` averages (``axis=-1``)."""
    return _per_sample(optax.huber_loss(z, y, delta=delta))
