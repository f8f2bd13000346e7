"""Minibatch and stateful training for the JAX and float64 arms.

Used for a workload that declares ``Data.batch_size`` or ``Model.state`` (the full-batch stateless
path in ``jax_trainer`` / ``f64`` is untouched, so every existing workload's hashes stay as they were).

- Batches: the training window in order: step k trains on batch ``k mod (n / batch_size)`` (what Keras
  ``fit(shuffle=False)`` does over consecutive epochs); an arm with ``Arm.shuffle_seed`` trains epoch e's batches
  in the order Keras's JAX backend draws for ``fit(shuffle=True)`` (``numpy_fit_order``), gathered by index.
- State: ``Model.state`` (BatchNormalization's moving statistics) is threaded through the forward pass,
  ``apply(params, x, state=..., training=True) -> (logits, new_state)``, and updated by every training
  step from that step's batch, before the optimizer's update of the parameters (as in Keras's ``fit``).
- What is recorded at the weights (and state) after k updates, k = 0..steps:
  ``loss``/``correct``/``accuracy`` and the head diagnostics on the whole training window in training mode
  (its own batch statistics: the moving averages play no part, so these measure the training itself);
  ``eval_loss``/``eval_accuracy`` on the held-out window (``Data.holdout``) in evaluation mode (the moving
  statistics); and the state itself (full vectors, plus ``state_mean_abs/<name>`` curves).
  ``grad_norm`` is the norm of the minibatch gradient step k applied.

The float64 arm is the same program in float64 (``jax.enable_x64``), not a separate NumPy derivation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from paritybench.arms.base import (
    ArmResult,
    TrainSpec,
    cast_data,
    column,
    program_key,
    run_compiled,
    step_curves,
    trajectories,
)
from paritybench.artifact import num
from paritybench.errors import ParityError
from paritybench.experiment import heads
from paritybench.experiment.weights import Weights, copy_weights
from paritybench.workloads.base import Arm, Workload, resolve_ref


def applies(workload: Workload) -> bool:
    """Whether ``workload`` is trained here (minibatches or state) rather than by the full-batch trainers."""
    return workload.data.batch_size is not None or bool(workload.model.state)


def stateful_apply(workload: Workload, arm: Arm | None = None) -> Callable:
    """The arm's forward pass as ``(params, x, state, training) -> (logits, new_state)``; a stateless model's
    is wrapped (its state is the empty dict)."""
    apply = resolve_ref((arm.jax_apply if arm is not None else None) or workload.model.jax_apply)
    if workload.model.state:
        return lambda p, x, state, training: apply(p, x, state=state, training=training)
    return lambda p, x, state, training: (apply(p, x), state)


def batch_slices(n: int, batch_size: int | None, steps: int) -> list[slice]:
    """The window rows step k trains on, for k = 0..steps-1."""
    bs = batch_size or n
    nb = n // bs
    return [slice((k % nb) * bs, (k % nb + 1) * bs) for k in range(steps)]


def numpy_fit_order(seed: int, n: int, epochs: int) -> list[np.ndarray]:
    """Each epoch's sample order in Keras's JAX-backend ``fit(shuffle=True)`` on a freshly compiled model after
    ``keras.utils.set_random_seed(seed)``: ``set_random_seed`` calls ``np.random.seed(seed)``
    (``keras/src/utils/rng_utils.py``); the array adapter draws ``np.random.permutation(n)`` each time an epoch's
    iterator starts (``keras/src/trainers/data_adapters/array_data_adapter.py``, ``_get_iterator``); and the first
    ``fit`` of a compiled model starts one iterator before the epochs, to build the loss and metrics symbolically
    (``keras/src/trainers/trainer.py``, ``_symbolic_build``), which takes the first permutation. So epoch e trains
    in ``RandomState(seed)``'s permutation e + 1 (measured: the same final weights, bit for bit, as ``fit`` on
    the JAX, TensorFlow and torch backends each in its own drawn order; ``tools/fit_order_check.py``)."""
    rs = np.random.RandomState(seed)
    rs.permutation(n)  # the symbolic build's draw
    return [rs.permutation(n) for _ in range(epochs)]


def order_rows(orders: list[np.ndarray], batch_size: int, steps: int) -> list[np.ndarray]:
    """Step k's rows when epoch e trains in ``orders[e]``: batch ``k mod nb`` of epoch ``k // nb``."""
    nb = len(orders[0]) // batch_size
    return [orders[k // nb][(k % nb) * batch_size : (k % nb + 1) * batch_size] for k in range(steps)]


def epochs_needed(n: int, batch_size: int | None, steps: int) -> int:
    """How many epochs ``steps`` steps of ``batch_size`` rows start (``n / batch_size`` steps each)."""
    nb = n // (batch_size or n)
    return -(-steps // nb)


def arm_rows(arm: Arm, n: int, batch_size: int | None, steps: int) -> list[slice] | list[np.ndarray]:
    """The rows a JAX or f64 arm trains step k on: ``batch_slices`` in window order, or with
    ``Arm.shuffle_seed`` Keras-JAX's ``fit(shuffle=True)`` order (``numpy_fit_order``)."""
    if arm.shuffle_seed is None:
        return batch_slices(n, batch_size, steps)
    bs = batch_size or n
    return order_rows(numpy_fit_order(arm.shuffle_seed, n, epochs_needed(n, bs, steps)), bs, steps)


def shuffle_record(seed: int, drawn_by: str, rows: list) -> dict:
    """What a shuffled arm's run records (``info["shuffle"]``): the seed, what drew the order, each step's rows."""
    return {"seed": seed, "drawn_by": drawn_by, "rows": [[int(i) for i in r] for r in rows]}


def _record(rec: dict, params, grads, keep_trajectory: bool) -> None:
    """The gradient's norm into ``rec`` and, when the trajectory is kept, the step's parameters and gradients."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    rec["grad_norm"] = jnp.sqrt(sum(jnp.sum(g**2) for g in jax.tree.leaves(grads)))
    if keep_trajectory:
        rec["params"], rec["grads"] = params, grads


def record_and_step(rec: dict, params, grads, step, opt_state, xb, yb, own_loss, keep_trajectory: bool):
    """``record_and_update`` for an arm with its own step (``Arm.jax_step``, the user's train step): the same
    records from paritybench's own gradient, then ``(new params, new optimizer state)`` as the user's step returns
    them on the step's batch; the loss it returns beside paritybench's ``own_loss`` on that batch at the same
    weights (``rec["step_loss"]``, ``rec["own_loss"]``: ``step_loss_record`` holds one to the other)."""
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    _record(rec, params, grads, keep_trajectory)
    new, opt_state, loss = step(params, opt_state, xb, yb)
    rec["step_loss"], rec["own_loss"] = jnp.asarray(loss), own_loss  # a step may return a Python number
    return new, opt_state


def ref_label(ref) -> str:
    """A reference as the user wrote it: ``"module:function"``, a callable as ``module:qualname``."""
    if isinstance(ref, str):
        return ref
    return f"{getattr(ref, '__module__', '?')}:{getattr(ref, '__qualname__', type(ref).__name__)}"


def step_loss_record(arm: Arm, step_loss: np.ndarray, own_loss: np.ndarray, batch: int) -> dict:
    """What an arm with its own step records (``info["user_step"]``): the loss its step returned at each step,
    and whether it is paritybench's loss on the same batch at the same weights. Both are float32 means of the same
    per-sample losses, computed by two programs that may sum the batch in another order: a sum of ``batch``
    float32 terms is within ``(batch - 1) * 2**-24`` of its exact value, relative (Higham, Accuracy and Stability
    of Numerical Algorithms, 4.2, recursive summation, the worst order), plus a few ulps of the per-sample terms
    themselves; a step that trains on another batch, another loss or another scale is far outside that."""
    tol = (batch + 8) * 2.0**-24
    a, b = np.asarray(step_loss, np.float64), np.asarray(own_loss, np.float64)
    with np.errstate(invalid="ignore"):
        rel = np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), 1e-30)
    bad = (np.isfinite(a) != np.isfinite(b)) | (np.isfinite(a) & np.isfinite(b) & (rel > tol))
    finite = rel[np.isfinite(rel)]
    first = int(np.argmax(bad)) if bad.any() else None
    return {
        "step": ref_label(arm.jax_step),
        "loss": [num(v) for v in a],
        "max_relative_difference": float(finite.max()) if finite.size else 0.0,
        "tolerance": tol,
        "agrees": first is None,
        "first_mismatch": None
        if first is None
        else {"step": first, "step_loss": num(a[first]), "paritybench_loss": num(b[first])},
    }


def record_and_update(rec: dict, params, grads, opt, opt_state, lr, keep_trajectory: bool):
    """One traced training step's update (the full-batch ``jax_trainer`` program's and this module's): the
    gradient's norm into ``rec`` (and, when the trajectory is kept, the step's parameters and gradients), then
    ``(new params, new optimizer state)``: plain ``w - lr * g`` without an optimizer, else the optax one's."""
    import jax  # late: a framework: loads after the numerics flags

    _record(rec, params, grads, keep_trajectory)
    if opt is None:
        return jax.tree.map(lambda w, g: w - lr * g, params, grads), opt_state
    import optax  # late: a framework: loads after the numerics flags

    updates, opt_state = opt.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state


def _program(
    workload: Workload, arm: Arm, steps: int, keep_trajectory: bool, lr: float, batch_size: int, has_eval: bool, n: int
):
    """``(params, state, x, y, xh, yh, lr) -> (final params, per-step records, final records)`` for one copy."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    apply = stateful_apply(workload, arm)
    loss_fn = resolve_ref(arm.loss_fn)
    head = workload.model.head
    opt = resolve_ref(arm.optimizer)(lr) if arm.optimizer is not None else None
    user_step = resolve_ref(arm.jax_step) if arm.jax_step is not None else None

    def batch_loss(params, state, xb, yb):
        z, new_state = apply(params, xb, state, True)
        return jnp.mean(loss_fn(z, yb)), new_state

    def measure(params, state, x, y, xh, yh):
        z, _ = apply(params, x, state, True)
        dz = jax.grad(lambda zz: jnp.sum(loss_fn(zz, y)))(z)
        finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(params)]))
        rec = {"loss": jnp.mean(loss_fn(z, y)), "finite": finite, **heads.measure(jnp, head, z, dz, y), "state": state}
        if has_eval:
            ze, _ = apply(params, xh, state, False)
            rec["eval_loss"] = jnp.mean(loss_fn(ze, yh))
            rec["eval_correct"] = jnp.sum(heads.correct_mask(jnp, head, heads.probabilities(jnp, head, ze), yh))
        return rec

    # a shuffled arm's rows, step by step (a constant of the program: program_key holds arm, steps, n, batch size)
    order = None
    if arm.shuffle_seed is not None:
        order = np.stack(arm_rows(arm, n, batch_size, steps)).astype(np.int32)

    def step(carry, k, x, y, xh, yh, lr):
        params, opt_state, state = carry
        if order is None:
            nb = x.shape[0] // batch_size
            i = (k % nb) * batch_size
            xb = jax.lax.dynamic_slice_in_dim(x, i, batch_size)
            yb = jax.lax.dynamic_slice_in_dim(y, i, batch_size)
        else:
            xb, yb = jnp.take(x, jnp.asarray(order)[k], axis=0), jnp.take(y, jnp.asarray(order)[k], axis=0)
        (own, new_state), grads = jax.value_and_grad(batch_loss, has_aux=True)(params, state, xb, yb)
        rec = measure(params, state, x, y, xh, yh)
        if user_step is None:
            new, opt_state = record_and_update(rec, params, grads, opt, opt_state, lr, keep_trajectory)
        else:
            new, opt_state = record_and_step(rec, params, grads, user_step, opt_state, xb, yb, own, keep_trajectory)
        return (new, opt_state, new_state), rec

    def train_one(params, state, x, y, xh, yh, lr):
        opt_state = opt.init(params) if opt is not None else ()
        (final, _, last_state), recs = jax.lax.scan(
            lambda c, k: step(c, k, x, y, xh, yh, lr), (params, opt_state, state), jnp.arange(steps)
        )
        return final, recs, measure(final, last_state, x, y, xh, yh)

    return train_one


def train_many(
    workload: Workload,
    arm: Arm,
    inits: list[Weights],
    x: np.ndarray,
    y: np.ndarray,
    spec: TrainSpec,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    *,
    f64: bool = False,
) -> list[ArmResult]:
    """Train every initial weight set on one window: one compiled vmapped program (float32), or the same
    program in float64 (``f64``, the arbiter)."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    names = workload.model.names
    n = x.shape[0]
    bs = spec.batch_size or n
    if n % bs:
        raise ParityError(
            f"--n {n} is not a multiple of workload {workload.name}'s batch size {bs}: use --n {max(bs, n - n % bs)}"
        )
    dtype = np.float64 if f64 else np.float32
    has_eval = eval_data is not None and eval_data[0].shape[0] > 0
    xh, yh = eval_data if has_eval else (x[:1], y[:1])  # a placeholder the program ignores
    copies = [copy_weights(w, workload.model.params) for w in inits]
    state0 = workload.model.initial_state()
    with jax.enable_x64(f64):
        params = {k: jnp.asarray(np.stack([c[k] for c in copies]).astype(dtype)) for k in names}
        state = {k: jnp.asarray(np.stack([v] * len(inits)).astype(dtype)) for k, v in state0.items()}
        args = (params, state, *(jnp.asarray(cast_data(a, dtype)) for a in (x, y, xh, yh)), jnp.asarray(spec.lr, dtype))
        key = program_key(workload, arm, spec, len(inits), x.shape, xh.shape, bs, f64)

        def build():
            program = _program(workload, arm, spec.steps, spec.keep_trajectory, spec.lr, bs, has_eval, n)
            return jax.jit(jax.vmap(program, in_axes=(0, 0, None, None, None, None, None)))

        (final, recs, last), compile_seconds, train_seconds = run_compiled(key, build, args)
    host = {k: np.asarray(v) for k, v in recs.items() if k not in ("params", "grads", "state")}
    own_step = "step_loss" in host
    states = {
        k: np.concatenate([np.asarray(recs["state"][k]), np.asarray(last["state"][k])[:, None]], axis=1) for k in state0
    }
    last = {k: np.asarray(v) for k, v in last.items() if k != "state"}
    final = {k: np.asarray(v) for k, v in final.items()}
    kept = trajectories(recs, final, names, len(inits), spec.steps) if spec.keep_trajectory else None
    shuffle = None
    if arm.shuffle_seed is not None:
        drawn = (
            "NumPy RandomState(seed) permutations, as Keras-JAX's fit(shuffle=True) (arms.minibatch.numpy_fit_order)"
        )
        shuffle = shuffle_record(arm.shuffle_seed, drawn, arm_rows(arm, n, bs, spec.steps))
    out = []
    for b in range(len(inits)):
        curves = step_curves(host, last, b, heads.scored(workload.model.head, y.shape, y.dtype))
        if has_eval:
            curves["eval_loss"] = [float(v) for v in column(host, last, "eval_loss", b)]
            m = heads.scored(workload.model.head, yh.shape, yh.dtype)  # the holdout's samples, labels or positions
            curves["eval_accuracy"] = [int(c) / m for c in column(host, last, "eval_correct", b)]
        state_b = {k: [[float(u) for u in np.ravel(v)] for v in states[k][b]] for k in state0}
        for k, vs in state_b.items():
            curves[f"state_mean_abs/{k}"] = [float(np.mean(np.abs(v))) for v in vs]
        result = ArmResult(
            curves=curves,
            # the artifact keeps float32 final weights for every arm (hashes compare like with like)
            final_weights={k: final[k][b].astype(np.float32) for k in names},
            info={
                "grad_norm_source": "autodiff-f64" if f64 else "autodiff",
                "train_seconds": train_seconds / len(inits),
                "compile_seconds": compile_seconds if b == 0 else 0.0,
                "batched_copies": len(inits),
                "batch_size": bs,
                **({"shuffle": shuffle} if shuffle else {}),
                **(
                    {"user_step": step_loss_record(arm, host["step_loss"][b], host["own_loss"][b], bs)}
                    if own_step
                    else {}
                ),
            },
            state=state_b or None,
        )
        if kept:
            result.trajectory, result.grads = kept[b]
        out.append(result)
    return out


class BatchArbiter:
    """The float64 gradient of one minibatch at any weights (training mode: the batch's own statistics, so
    the moving state does not enter it), for the gradient-agreement diagnostics."""

    def __init__(self, workload: Workload, arm: Arm | None = None):
        self.workload = workload
        self.arm = arm or workload.arm(workload.reference)
        self._fn = None

    def grad(self, w: Weights, xb: np.ndarray, yb: np.ndarray) -> Weights:
        import jax  # late: a framework: loads after the numerics flags
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags

        with jax.enable_x64(True):
            if self._fn is None:
                apply = stateful_apply(self.workload, self.arm)
                loss_fn = resolve_ref(self.arm.loss_fn)
                state = {k: jnp.asarray(v, jnp.float64) for k, v in self.workload.model.initial_state().items()}

                def mean_loss(p, xb, yb):
                    return jnp.mean(loss_fn(apply(p, xb, state, True)[0], yb))

                self._fn = jax.jit(jax.grad(mean_loss))
            g = self._fn(
                {k: jnp.asarray(v, jnp.float64) for k, v in w.items()},
                jnp.asarray(cast_data(xb, np.float64)),
                jnp.asarray(cast_data(yb, np.float64)),
            )
            return {k: np.asarray(v, np.float64) for k, v in g.items()}


def evaluate_correct(workload: Workload, weights: Weights, x: np.ndarray, y: np.ndarray, *, f64: bool = False) -> int:
    """A stateless minibatch model's forward pass (the weight swap); a stateful model has no swap (its
    evaluation mode needs the moving statistics, which are not part of the weights)."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    xp_dtype = jnp.float64 if f64 else jnp.float32
    with jax.enable_x64(f64):
        z, _ = stateful_apply(workload)(
            {k: jnp.asarray(v, xp_dtype) for k, v in weights.items()}, jnp.asarray(cast_data(x, xp_dtype)), {}, True
        )
        return heads.count_correct(jnp, workload.model.head, z, jnp.asarray(cast_data(y, xp_dtype)))
