"""JAX arms: one compiled program per (workload, arm) trains every copy on a window.

Each arm is the workload's forward pass (``Model.jax_apply``) around the arm's
per-sample loss, in a ``lax.scan`` over the steps with the arm's optimizer (plain
``w - lr * g`` when it declares none, the seed's update). Several initial weight
sets on one window (seeds, or the perturbed copies of the sensitivity study) train
together: ``jax.vmap`` over the copies, one program, compiled ahead of time so that
compile time is measured apart from training.
"""

from __future__ import annotations

import time

import numpy as np

from paritybench.arms import minibatch
from paritybench.arms.base import ArmResult, TrainSpec, step_curves
from paritybench.experiment import heads
from paritybench.experiment.weights import Weights, copy_weights
from paritybench.workloads.base import Arm, Workload, resolve_ref


def _compiled_trainer(workload: Workload, arm: Arm, steps: int, keep_trajectory: bool, lr: float):
    """A jitted ``(batched params, x, y, lr) -> (final params, per-step records, final records)``."""
    import jax
    import jax.numpy as jnp

    apply = resolve_ref(arm.jax_apply or workload.model.jax_apply)
    loss_fn = resolve_ref(arm.loss_fn)
    head = workload.model.head
    opt = resolve_ref(arm.optimizer)(lr) if arm.optimizer is not None else None

    def mean_loss(params, x, y):
        return jnp.mean(loss_fn(apply(params, x), y))

    def measure(params, x, y):
        """Loss, accuracy and the saturation/dead-gradient diagnostics at ``params``."""
        z = apply(params, x)
        # d(per-sample loss)/d(logits), from this arm's own loss: samples are
        # independent, so the gradient of the sum holds each sample's own.
        dz = jax.grad(lambda zz: jnp.sum(loss_fn(zz, y)))(z)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(params)]))
        return {"loss": jnp.mean(loss_fn(z, y)), "finite": finite, **heads.measure(jnp, head, z, dz, y)}

    def step(carry, x, y, lr):
        params, state = carry
        grads = jax.grad(mean_loss)(params, x, y)
        rec = measure(params, x, y)
        rec["grad_norm"] = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))
        if keep_trajectory:
            rec["params"], rec["grads"] = params, grads
        if opt is None:
            new = jax.tree.map(lambda w, g: w - lr * g, params, grads)
        else:
            import optax

            updates, state = opt.update(grads, state, params)
            new = optax.apply_updates(params, updates)
        return (new, state), rec

    def train_one(params, x, y, lr):
        state = opt.init(params) if opt is not None else ()
        (final, _), recs = jax.lax.scan(lambda c, _: step(c, x, y, lr), (params, state), None, length=steps)
        return final, recs, measure(final, x, y)

    return jax.jit(jax.vmap(train_one, in_axes=(0, None, None, None)))


_EXECUTABLES: dict[tuple, object] = {}


def train_many(
    workload: Workload,
    arm: Arm,
    inits: list[Weights],
    x: np.ndarray,
    y: np.ndarray,
    spec: TrainSpec,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[ArmResult]:
    if minibatch.applies(workload):  # minibatches or moving statistics: their own program
        return minibatch.train_many(workload, arm, inits, x, y, spec, eval_data)
    import jax
    import jax.numpy as jnp

    names = workload.model.names
    copies = [copy_weights(w, workload.model.params) for w in inits]
    params = {k: jnp.asarray(np.stack([c[k] for c in copies])) for k in names}
    args = (params, jnp.asarray(x), jnp.asarray(y), jnp.float32(spec.lr))
    # An optax optimizer bakes its learning rate into the program; plain SGD takes it as an argument.
    key = (
        workload.name,
        workload.version,
        id(workload),
        arm.name,
        spec.steps,
        spec.keep_trajectory,
        len(inits),
        x.shape,
        spec.lr if arm.optimizer is not None else None,
    )
    compile_seconds = 0.0
    if key not in _EXECUTABLES:
        t = time.perf_counter()
        _EXECUTABLES[key] = (
            _compiled_trainer(workload, arm, spec.steps, spec.keep_trajectory, spec.lr).lower(*args).compile()
        )
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
        curves = step_curves(host, last, b, n)
        result = ArmResult(
            curves=curves,
            final_weights={k: final[k][b] for k in names},
            info={
                "grad_norm_source": "autodiff",
                "train_seconds": train_seconds / len(inits),
                "compile_seconds": compile_seconds if b == 0 else 0.0,
                "batched_copies": len(inits),
            },
        )
        if spec.keep_trajectory:
            result.trajectory = [{k: ps[k][b, s] for k in names} for s in range(spec.steps)]
            result.trajectory.append(result.final_weights)
            result.grads = [{k: gs[k][b, s] for k in names} for s in range(spec.steps)]
        out.append(result)
    return out


def evaluate_correct(workload: Workload, weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
    """The JAX float32 forward pass used for the weight swap."""
    import jax.numpy as jnp

    if minibatch.applies(workload):
        return minibatch.evaluate_correct(workload, weights, x, y)

    z = resolve_ref(workload.model.jax_apply)({k: jnp.asarray(v) for k, v in weights.items()}, jnp.asarray(x))
    return heads.count_correct(jnp, workload.model.head, z, jnp.asarray(y))
