"""The same tagger in pure JAX, as a user writes it: no paritybench import. ``apply`` returns the logits, one row
of 5 per token, (batch, 8, 5); the loss is optax's cross-entropy with integer labels, the mean over tokens."""

import jax
import jax.numpy as jnp
import optax


def init(seed):
    k0, k1, k2 = jax.random.split(jax.random.PRNGKey(seed), 3)
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "embed": {"embedding": jax.random.uniform(k0, (20, 8), minval=-0.05, maxval=0.05)},  # Keras's Embedding init
        "hidden": {"w": glorot(k1, (8, 16)), "b": jnp.zeros(16)},
        "out": {"w": glorot(k2, (16, 5)), "b": jnp.zeros(5)},
    }


def layers(params, tokens):
    """The named intermediates in forward order, named as the Keras and torch layers that output them."""
    e = jnp.take(params["embed"]["embedding"], tokens, axis=0)
    hidden = e @ params["hidden"]["w"] + params["hidden"]["b"]
    return {"embed": e, "hidden": hidden, "tanh": jnp.tanh(hidden)}


def apply(params, tokens):
    return layers(params, tokens)["tanh"] @ params["out"]["w"] + params["out"]["b"]


def loss(logits, tags):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, tags))


optimizer = optax.sgd(0.5)
