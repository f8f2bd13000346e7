"""The JAX arms: one compiled program per loss formulation.

Each arm is the same SGD loop (``lax.scan`` over the steps, plain
``w - lr * grad``) around a different per-sample loss from ``paritybench.losses``.
Several initial weight sets on one window (seeds, or the perturbed copies of the
sensitivity study) train together: ``jax.vmap`` over the copies, one program.
"""

from __future__ import annotations

import time

import numpy as np

from .. import diagnostics, losses
from ..diagnostics import SATURATION_LOGIT
from ..model import PARAM_NAMES, Weights, copy_weights
from .base import ArmResult, ArmSpec, TrainSpec, nonfinite_steps


def _forward(params, x):
    import jax.numpy as jnp

    h = jnp.maximum(x @ params["dense_0/kernel"] + params["dense_0/bias"], 0)
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def _compiled_trainer(loss_name: str, steps: int, keep_trajectory: bool):
    """A jitted ``(batched params, x, y, lr) -> (final params, per-step records, final records)``."""
    import jax
    import jax.numpy as jnp

    loss_fn = losses.LOSSES[loss_name]

    def mean_loss(params, x, y):
        return jnp.mean(loss_fn(_forward(params, x), y))

    def measure(params, x, y):
        """Loss, accuracy and the saturation/dead-gradient diagnostics at ``params``."""
        z = _forward(params, x)
        p = jax.nn.sigmoid(z)
        # d(per-sample loss)/d(logit), from this arm's own loss: samples are
        # independent, so the gradient of the sum holds each sample's own.
        dz = jax.grad(lambda zz: jnp.sum(loss_fn(zz, y)))(z)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(params)]))
        return {
            "loss": jnp.mean(loss_fn(z, y)),
            "correct": jnp.sum((p > 0.5) == (y > 0.5)),
            "finite": finite,
            "saturated_output": jnp.mean((p == 0.0) | (p == 1.0)),
            "saturated_logit": jnp.mean(jnp.abs(z) > SATURATION_LOGIT),
            "dead_gradient": jnp.mean(dz == 0.0),
            # the harmful kind: wrong, and the loss gives no gradient to fix it
            "dead_misclassified": jnp.mean((dz == 0.0) & ((p > 0.5) != (y > 0.5))),
            "nonfinite_gradient": jnp.mean(~jnp.isfinite(dz)),
        }

    def step(params, x, y, lr):
        grads = jax.grad(mean_loss)(params, x, y)
        rec = measure(params, x, y)
        rec["grad_norm"] = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))
        if keep_trajectory:
            rec["params"], rec["grads"] = params, grads
        new = jax.tree.map(lambda w, g: w - lr * g, params, grads)
        return new, rec

    def train_one(params, x, y, lr):
        final, recs = jax.lax.scan(lambda p, _: step(p, x, y, lr), params, None, length=steps)
        return final, recs, measure(final, x, y)

    return jax.jit(jax.vmap(train_one, in_axes=(0, None, None, None)))


_EXECUTABLES: dict[tuple, object] = {}


def make_trainer(loss_name: str):
    def train_many(inits: list[Weights], x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> list[ArmResult]:
        import jax
        import jax.numpy as jnp

        copies = [copy_weights(w) for w in inits]
        params = {k: jnp.asarray(np.stack([c[k] for c in copies])) for k in PARAM_NAMES}
        args = (params, jnp.asarray(x), jnp.asarray(y), jnp.float32(spec.lr))
        # Compile ahead of time, so compile time is measured apart from training.
        key = (loss_name, spec.steps, spec.keep_trajectory, len(inits), x.shape)
        compile_seconds = 0.0
        if key not in _EXECUTABLES:
            t = time.perf_counter()
            _EXECUTABLES[key] = _compiled_trainer(loss_name, spec.steps, spec.keep_trajectory).lower(*args).compile()
            compile_seconds = time.perf_counter() - t
        t = time.perf_counter()
        final, recs, last = jax.block_until_ready(_EXECUTABLES[key](*args))
        train_seconds = time.perf_counter() - t
        host = {k: np.asarray(v) for k, v in recs.items() if k not in ("params", "grads")}
        if spec.keep_trajectory:  # one device-to-host copy each, not one per (copy, step)
            ps = {k: np.asarray(v) for k, v in recs["params"].items()}
            gs = {k: np.asarray(v) for k, v in recs["grads"].items()}
        last = {k: np.asarray(v) for k, v in last.items()}
        final = {k: np.asarray(v) for k, v in final.items()}
        n = x.shape[0]
        out = []
        for b in range(len(inits)):
            def col(name, b=b):
                return [v.item() for v in host[name][b]] + [last[name][b].item()]

            loss, correct, finite = col("loss"), [int(c) for c in col("correct")], col("finite")
            curves = {
                "loss": loss,
                "correct": correct,
                "accuracy": [c / n for c in correct],
                "grad_norm": [float(v) for v in host["grad_norm"][b]],
                "nonfinite": nonfinite_steps(finite, loss),
                **{k: [float(v) for v in col(k)] for k in diagnostics.PER_STEP},
            }
            result = ArmResult(curves=curves, final_weights={k: final[k][b] for k in PARAM_NAMES},
                               info={"grad_norm_source": "autodiff", "train_seconds": train_seconds / len(inits),
                                     "compile_seconds": compile_seconds if b == 0 else 0.0,
                                     "batched_copies": len(inits)})
            if spec.keep_trajectory:
                result.trajectory = [{k: ps[k][b, s] for k in PARAM_NAMES} for s in range(spec.steps)]
                result.trajectory.append(result.final_weights)
                result.grads = [{k: gs[k][b, s] for k in PARAM_NAMES} for s in range(spec.steps)]
            out.append(result)
        return out

    return train_many


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
    ArmSpec("jax-keras-torch-clip", "Keras's torch path in JAX: the same clip, torch's gradient at its bounds",
            "main", "keras_torch_clip", make_trainer("keras_torch_clip"), ("jax",)),
    ArmSpec("jax-logits", "BCE from logits (optax.sigmoid_binary_cross_entropy): the fix",
            "main", "logits", make_trainer("logits"), ("jax", "optax")),
]
