"""An existing flax regression model, as a user writes it (linen and nnx): no paritybench import."""

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
