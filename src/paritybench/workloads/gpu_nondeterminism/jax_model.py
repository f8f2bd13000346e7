"""gpu-nondeterminism in JAX: the embedding bag by gather (scatter-add gradient) and by one-hot matmul; the BCE
formulations its arms train with are the kit's (``kit/bce.py``, ``kit/losses.py``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from paritybench.workloads.gpu_nondeterminism.workload import BINS, DIM, PIXELS, VOCAB
from paritybench.workloads.kit.bce import keras_clip as keras_clip
from paritybench.workloads.kit.bce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.bce import logits as logits


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """NumPy draws (no JAX RNG, so ``threefry_partitionable`` does not apply): the table uniform in
    +-0.05 (Keras's Embedding default), the dense kernel glorot_uniform, zero bias."""
    del threefry_partitionable
    rng = np.random.default_rng(seed)
    limit = np.sqrt(6.0 / (DIM + 1))
    return {
        "embedding/table": rng.uniform(-0.05, 0.05, size=(VOCAB, DIM)).astype(np.float32),
        "dense/kernel": rng.uniform(-limit, limit, size=(DIM, 1)).astype(np.float32),
        "dense/bias": np.zeros(1, np.float32),
    }


def bins(x):
    """Each pixel's intensity bin in 0..BINS-1 (x in [0, 1]; 1.0 goes to the top bin)."""
    return jnp.clip(jnp.floor(x * BINS), 0, BINS - 1).astype(jnp.int32)


def tokens(x):
    """Token ids (n, 784): position * BINS + bin; every id belongs to one position."""
    return jnp.arange(PIXELS, dtype=jnp.int32) * BINS + bins(x)


def _head(params, bag):
    return jax.nn.relu(bag) @ params["dense/kernel"] + params["dense/bias"]


def apply_gather(params, x):
    """The bag as a port writes it: look up 784 rows per sample and sum. The gradient with respect to
    the table is a scatter-add of (n * 784) rows into 3136 with collisions: atomics on a GPU."""
    return _head(params, jnp.take(params["embedding/table"], tokens(x), axis=0).sum(axis=1))


def apply_onehot(params, x):
    """The same sum as a matmul: one_hot(bins) (n, 784, 4) flattened to (n, 3136) counts, times the
    table. Its table gradient is counts.T @ d_bag, a matmul: deterministic without any flag."""
    counts = jax.nn.one_hot(bins(x), BINS, dtype=x.dtype).reshape(x.shape[0], VOCAB)
    return _head(params, counts @ params["embedding/table"])
