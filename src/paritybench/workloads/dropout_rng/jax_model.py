"""dropout-rng in JAX: 784-64-ReLU-Dropout-10, Keras's default initial weights, three ways to write the dropout.

Every variant draws its mask from the key in the model state, ``dropout/seed`` = [S, k] (``workload.SEED``, the
step k), and returns the state with k + 1: that is Keras's ``SeedGenerator`` (``keras/src/random/seed_generator.py``,
``next``: the state [seed, counter] is returned, then the counter is incremented) and on the JAX backend that raw
uint32 pair is the key (``keras/src/backend/jax/random.py``, ``dropout``: ``jax.random.bernoulli(seed,
p=1 - rate)``, then ``lax.select(mask, x / keep_prob, 0)``). So ``apply`` draws Keras-JAX's masks exactly.

- ``apply``: Keras's convention (``rate`` is the drop probability; inverted scaling ``x / (1 - rate)``; identity at
  evaluation).
- ``apply_stax_keep_rate``: the literal port with ``jax.example_libraries.stax.Dropout(rate)`` given Keras's rate:
  stax's ``rate`` is the KEEP probability (``stax.py``, ``Dropout``: ``keep = random.bernoulli(rng, rate)``,
  ``inputs / rate``), so it keeps 20% and scales by 5 where Keras keeps 80% and scales by 1.25.
- ``apply_dropout_at_eval``: Keras's rate and scaling, but the training-mode function also at evaluation (stax fixes
  ``mode`` when the layer is built; a port that builds the network once evaluates with dropout on).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from paritybench.workloads.dropout_rng.workload import PARAMS, RATE
from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init

__all__ = ["apply", "apply_dropout_at_eval", "apply_stax_keep_rate", "dropout", "init"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def dropout(h, key_state, keep: float):
    """Inverted dropout with keep probability ``keep`` and the raw uint32 key ``key_state`` ([S, k]): Keras-JAX's
    ``jax.random.bernoulli(seed, p=keep)`` (p float32, so the float64 arbiter draws the same uniforms) and
    ``h / keep`` where kept, 0 elsewhere."""
    key = jnp.asarray(key_state).astype(jnp.uint32)
    mask = jax.random.bernoulli(key, p=jnp.float32(keep), shape=h.shape)
    return jnp.where(mask, h / jnp.asarray(keep, h.dtype), jnp.zeros_like(h))


def _forward(params, x, state, training: bool, keep: float, drop_at_eval: bool):
    h = jax.nn.relu(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    seed = state["dropout/seed"]
    if training or drop_at_eval:
        h = dropout(h, seed, keep)
    z = h @ params["dense_1/kernel"] + params["dense_1/bias"]
    # the counter moves once per training call, as SeedGenerator.next does in Keras's training step
    new = {"dropout/seed": seed + jnp.asarray([0, 1], seed.dtype)} if training else state
    return z, new


def apply(params, x, state, training: bool = True):
    """Keras's convention: drop ``RATE``, scale by 1 / (1 - RATE), off at evaluation."""
    return _forward(params, x, state, training, 1.0 - RATE, False)


def apply_stax_keep_rate(params, x, state, training: bool = True):
    """The literal port: ``stax.Dropout(RATE)``, whose argument is the keep probability."""
    return _forward(params, x, state, training, RATE, False)


def apply_dropout_at_eval(params, x, state, training: bool = True):
    """Keras's rate and scaling, dropout left on at evaluation (the key of the current state, not advanced)."""
    return _forward(params, x, state, training, 1.0 - RATE, True)
