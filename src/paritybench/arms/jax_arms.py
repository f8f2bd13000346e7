"""The JAX arms: one compiled program per loss formulation.

Each arm is the same SGD loop (``lax.scan`` over the steps, plain
``w - lr * grad``) around a different per-sample loss from ``paritybench.losses``.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from .. import losses
from ..model import PARAM_NAMES, Weights, copy_weights
from .base import ArmResult, ArmSpec, TrainSpec


def _forward(params, x):
    import jax.numpy as jnp

    h = jnp.maximum(x @ params["dense_0/kernel"] + params["dense_0/bias"], 0)
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


@cache
def _compiled_trainer(loss_name: str, steps: int):
    """A jitted ``(params, x, y, lr) -> (final params, per-step records)``."""
    import jax
    import jax.numpy as jnp

    loss_fn = losses.LOSSES[loss_name]

    def mean_loss(params, x, y):
        return jnp.mean(loss_fn(_forward(params, x), y))

    def measure(params, x, y):
        z = _forward(params, x)
        correct = jnp.sum((jax.nn.sigmoid(z) > 0.5) == (y > 0.5))
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(params)]))
        return z, correct, finite

    def step(params, _, x, y, lr):
        loss, grads = jax.value_and_grad(mean_loss)(params, x, y)
        _, correct, finite = measure(params, x, y)
        gnorm = jnp.sqrt(sum(jnp.sum(g.astype(jnp.float32) ** 2) for g in jax.tree.leaves(grads)))
        new = jax.tree.map(lambda w, g: w - lr * g, params, grads)
        return new, {"loss": loss, "correct": correct, "finite": finite, "grad_norm": gnorm}

    @jax.jit
    def train(params, x, y, lr):
        final, recs = jax.lax.scan(lambda p, s: step(p, s, x, y, lr), params, None, length=steps)
        _, correct, finite = measure(final, x, y)
        last = {"loss": mean_loss(final, x, y), "correct": correct, "finite": finite}
        return final, recs, last

    return train


def make_trainer(loss_name: str):
    def train(init: Weights, x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> ArmResult:
        import jax.numpy as jnp

        trainer = _compiled_trainer(loss_name, spec.steps)
        params = {k: jnp.asarray(v) for k, v in copy_weights(init).items()}
        final, recs, last = trainer(params, jnp.asarray(x), jnp.asarray(y), jnp.float32(spec.lr))
        n = x.shape[0]
        correct = [int(c) for c in np.asarray(recs["correct"])] + [int(last["correct"])]
        finite = [bool(f) for f in np.asarray(recs["finite"])] + [bool(last["finite"])]
        loss = [float(v) for v in np.asarray(recs["loss"])] + [float(last["loss"])]
        curves = {
            "loss": loss,
            "correct": correct,
            "accuracy": [c / n for c in correct],
            "grad_norm": [float(v) for v in np.asarray(recs["grad_norm"])],
            # A step is flagged when its weights or its loss are not finite.
            "nonfinite": [(not f) or not np.isfinite(lv) for f, lv in zip(finite, loss, strict=True)],
        }
        final_w = {k: np.asarray(final[k]) for k in PARAM_NAMES}
        return ArmResult(curves=curves, final_weights=final_w, info={"grad_norm_source": "autodiff"})

    return train


def evaluate_correct(weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
    """The JAX float32 forward pass used for the weight swap: sigmoid(z) > 0.5."""
    import jax
    import jax.numpy as jnp

    z = _forward({k: jnp.asarray(v) for k, v in weights.items()}, jnp.asarray(x))
    return int(jnp.sum((jax.nn.sigmoid(z) > 0.5) == (jnp.asarray(y) > 0.5)))


ARMS = [
    ArmSpec("jax-naive", "the seed's first BCE on sigmoid outputs (log of a saturated p)",
            "main", "naive", make_trainer("naive"), ("jax",)),
    ArmSpec("jax-seed-stable", "the seed's clipped 'stable' BCE: p clipped to [1e-6, 1-1e-7]",
            "main", "seed_stable", make_trainer("seed_stable"), ("jax",)),
    ArmSpec("jax-keras-clip", "Keras's JAX/torch probability path: p clipped to [1e-7, 1-1e-7]",
            "main", "keras_clip", make_trainer("keras_clip"), ("jax",)),
    ArmSpec("jax-logits", "BCE from logits (optax.sigmoid_binary_cross_entropy): the fix",
            "main", "logits", make_trainer("logits"), ("jax", "optax")),
]
