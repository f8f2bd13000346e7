"""The same classifier in pure JAX, as a user writes it: no paritybench import. ``apply`` returns the four logits;
the loss is optax's sigmoid binary cross-entropy on them, the mean over samples and labels."""

import jax
import jax.numpy as jnp
import optax


def init(seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "hidden": {"w": glorot(k1, (10, 16)), "b": jnp.zeros(16)},
        "out": {"w": glorot(k2, (16, 4)), "b": jnp.zeros(4)},
    }


def layers(params, x):
    """The named intermediates in forward order, named as the Keras and torch layers that output them."""
    hidden = x @ params["hidden"]["w"] + params["hidden"]["b"]
    return {"hidden": hidden, "relu": jax.nn.relu(hidden)}


def apply(params, x):
    return layers(params, x)["relu"] @ params["out"]["w"] + params["out"]["b"]


def loss(logits, labels):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels))


optimizer = optax.sgd(0.5)
