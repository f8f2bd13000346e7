"""label-shape in JAX: the per-sample losses of the broadcast port, the fix and the Keras emulations.

Every loss receives the model's logits z of shape (n, 1) and the workload's labels of
shape (n, 1), and first flattens the labels to (n,), because that is the shape a user's
label vector has (``y_train`` straight from a dataset). What each one does with that
(n,) vector against the (n, 1) predictions is the question.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax

from paritybench.workloads.label_shape.workload import HIDDEN, INPUT_DIM
from paritybench.workloads.seed_bce import jax_model as seed_bce


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """stax's Dense/Relu/Dense init at ``PRNGKey(seed)`` (784-HIDDEN-1), as the seed draws its weights."""
    from jax.example_libraries import stax  # late: a framework: loads after the numerics flags

    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", bool(threefry_partitionable))
    try:
        init_fun, _ = stax.serial(stax.Dense(HIDDEN), stax.Relu, stax.Dense(1))
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
    """784-HIDDEN-1, ReLU: the logit, shape (n, 1) (the sigmoid is the head's)."""
    h = jnp.maximum(x @ params["dense_0/kernel"] + params["dense_0/bias"], 0)
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def layers(params, x):
    """Each named layer's output in forward order (``Model.jax_layers``): the first Dense's pre-activation and
    its ReLU (Keras's ``Dense(activation="relu")`` output); the second Dense's output is the logits."""
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    return {"dense_0": h, "dense_0/relu": jnp.maximum(h, 0)}


def user_labels(y: jax.Array) -> jax.Array:
    """The labels as the user's data holds them: a flat (n,) vector."""
    return y.reshape(-1)


def broadcast(z: jax.Array, y: jax.Array) -> jax.Array:
    """The literal port: ``optax.sigmoid_binary_cross_entropy(z, y)`` with z (n, 1) and y (n,).

    NumPy broadcasting makes that an (n, n) matrix, entry (i, j) = BCE(z_i, y_j): every
    prediction scored against every label. Its mean is mean_i softplus(z_i) - mean(z) * mean(y),
    whose gradient in z_i is (sigmoid(z_i) - mean(y)) / n: each logit is pulled towards the
    base rate, the label of sample i plays no part. No error, no warning, a loss near log 2.
    """
    return optax.sigmoid_binary_cross_entropy(z, user_labels(y))


def reshaped(z: jax.Array, y: jax.Array) -> jax.Array:
    """The fix, one reshape: the logits to (n,) like the labels, then BCE from logits, (n,)."""
    return optax.sigmoid_binary_cross_entropy(z.reshape(-1), user_labels(y))


def _keras_aligned(y: jax.Array) -> jax.Array:
    # keras/src/losses/loss.py squeeze_or_expand_to_same_rank: y_true of rank 1 against
    # y_pred (n, 1) gets ops.expand_dims(y_true, -1), i.e. (n, 1), before the loss sees it.
    return user_labels(y)[:, None]


def keras_clip(z: jax.Array, y: jax.Array) -> jax.Array:
    """Keras-JAX: the labels aligned to (n, 1) as Keras's loss wrapper does, then its clipped BCE."""
    return seed_bce.keras_clip(z, _keras_aligned(y))


def keras_torch_clip(z: jax.Array, y: jax.Array) -> jax.Array:
    """Keras-torch: the same alignment, then its clipped BCE with torch's gradients."""
    return seed_bce.keras_torch_clip(z, _keras_aligned(y))


def pairwise_mean_closed_form(z: jax.Array, y: jax.Array) -> jax.Array:
    """mean_i softplus(z_i) - mean(z) mean(y): what the broadcast loss's mean equals (tests pin it)."""
    return jnp.mean(jax.nn.softplus(z)) - jnp.mean(z) * jnp.mean(y)
