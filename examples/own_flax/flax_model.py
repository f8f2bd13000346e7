"""An existing flax regression model with its jitted train steps, as a user writes them (linen and nnx): no
paritybench import."""

import jax
import jax.numpy as jnp
import optax
from flax import linen, nnx


class Regressor(linen.Module):
    @linen.compact
    def __call__(self, x):
        h = jnp.tanh(linen.Dense(16, name="hidden")(x))
        return linen.Dense(1, name="out")(h)


class NnxRegressor(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(8, 16, rngs=rngs)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(jnp.tanh(self.hidden(x)))


def build_nnx(seed):
    return NnxRegressor(nnx.Rngs(seed))


model = Regressor()


def loss(predictions, targets):
    return jnp.mean(jnp.square(predictions - targets))


optimizer = optax.sgd(0.05)


@jax.jit
def train_step(params, opt_state, x, y):
    """linen: plain JAX over the params collection."""
    value, grads = jax.value_and_grad(lambda p: loss(model.apply({"params": p}, x), y))(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, value


@nnx.jit
def nnx_train_step(model, optimizer, x, y):
    """nnx: the model and its nnx.Optimizer(model, optimizer, wrt=nnx.Param), updated in place."""
    value, grads = nnx.value_and_grad(lambda m: loss(m(x), y))(model)
    optimizer.update(model, grads)
    return value
