"""The seed question's 784-1000-1 MLP as a user writes it in plain JAX with optax: no paritybench import."""

import jax
import jax.numpy as jnp
import optax


def init(seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "hidden": {"w": glorot(k1, (784, 1000)), "b": jnp.zeros(1000)},
        "out": {"w": glorot(k2, (1000, 1)), "b": jnp.zeros(1)},
    }


def apply(params, x):
    h = jax.nn.relu(x @ params["hidden"]["w"] + params["hidden"]["b"])
    return h @ params["out"]["w"] + params["out"]["b"]  # the logit


def loss(logits, labels):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, labels))


optimizer = optax.sgd(0.01)
