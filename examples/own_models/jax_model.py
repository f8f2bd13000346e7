"""An existing pure-JAX regression model and its jitted train step, as a user writes them: no paritybench import."""

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


@jax.jit
def train_step(params, opt_state, x, y):
    value, grads = jax.value_and_grad(lambda p: loss(apply(p, x), y))(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value
