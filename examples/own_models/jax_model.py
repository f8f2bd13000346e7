"""An existing pure-JAX regression model, as a user writes it: no paritybench import."""

import jax
import jax.numpy as jnp
import optax


def init(seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "hidden": {"w": glorot(k1, (8, 16)), "b": jnp.zeros(16)},
        "out": {"w": glorot(k2, (16, 1)), "b": jnp.zeros(1)},
    }


def apply(params, x):
    h = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
    return h @ params["out"]["w"] + params["out"]["b"]


def loss(predictions, targets):
    return jnp.mean(jnp.square(predictions - targets))


optimizer = optax.adam(1e-2, eps=1e-7)
