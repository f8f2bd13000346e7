"""The same LSTM in pure JAX over Keras's cell layout (gates i, f, c, o; one bias): no paritybench import.

paritybench trains it in float32 and, as the arbiter, in float64; ``layers`` names the LSTM's output sequence
``rnn``, as torch_model.py names its ``nn.LSTM``, so ``localize`` compares them layer by layer.
"""

import jax
import jax.numpy as jnp
import optax

UNITS = 16


def init(seed):
    k1, k2, k3 = jax.random.split(jax.random.PRNGKey(seed), 3)
    glorot = jax.nn.initializers.glorot_uniform()
    bias = jnp.zeros(4 * UNITS).at[UNITS : 2 * UNITS].set(1.0)  # Keras's unit_forget_bias
    return {
        "rnn": {
            "kernel": glorot(k1, (28, 4 * UNITS)),
            "recurrent_kernel": jax.nn.initializers.orthogonal()(k2, (UNITS, 4 * UNITS)),
            "bias": bias,
        },
        "out": {"kernel": glorot(k3, (UNITS, 10)), "bias": jnp.zeros(10)},
    }


def lstm(p, x):
    def step(carry, x_t):
        h, c = carry
        z = x_t @ p["kernel"] + h @ p["recurrent_kernel"] + p["bias"]
        i, f, g, o = jnp.split(z, 4, axis=-1)
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        h = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (h, c), h

    zeros = jnp.zeros((x.shape[0], UNITS), x.dtype)
    _, hs = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(x, 0, 1))
    return jnp.swapaxes(hs, 0, 1)  # (batch, steps, units)


def layers(params, x):
    return {"rnn": lstm(params["rnn"], x)}


def apply(params, x):
    return lstm(params["rnn"], x)[:, -1] @ params["out"]["kernel"] + params["out"]["bias"]  # the logits


def loss(logits, digits):
    return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, digits))


optimizer = optax.sgd(0.5)
