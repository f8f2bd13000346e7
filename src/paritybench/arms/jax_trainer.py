"""JAX arms: one compiled program per (workload, arm) trains every copy on a window.

Each arm is the workload's forward pass (``Model.jax_apply``) around the arm's
per-sample loss, in a ``lax.scan`` over the steps with the arm's optimizer (plain
``w - lr * g`` when it declares none, the seed's update). Several initial weight
sets on one window (seeds, or the perturbed copies of the sensitivity study) train
together: ``jax.vmap`` over the copies, one program, compiled ahead of time so that
compile time is measured apart from training.
"""

from __future__ import annotations

from functools import partial
from types import ModuleType

import numpy as np

from paritybench.arms import minibatch
from paritybench.arms.base import (
    ArmResult,
    Evaluation,
    TrainSpec,
    cast_data,
    program_key,
    run_compiled,
    step_curves,
    trajectories,
)
from paritybench.arms.jax_conventions import main_arm_rows, numerics_rows
from paritybench.arms.kind import Batches, Kind
from paritybench.arms.minibatch import record_and_step, record_and_update, stateful_apply, step_loss_record
from paritybench.experiment import flags, heads
from paritybench.experiment.weights import Weights, copy_weights
from paritybench.workloads.base import Arm, Workload, resolve_ref


def _compiled_trainer(workload: Workload, arm: Arm, steps: int, keep_trajectory: bool, lr: float):
    """A jitted ``(batched params, x, y, lr) -> (final params, per-step records, final records)``."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    apply = resolve_ref(arm.jax_apply or workload.model.jax_apply)
    loss_fn = resolve_ref(arm.loss_fn)
    head = workload.model.head
    opt = resolve_ref(arm.optimizer)(lr) if arm.optimizer is not None else None
    user_step = resolve_ref(arm.jax_step) if arm.jax_step is not None else None

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
        if user_step is None:
            new, state = record_and_update(rec, params, grads, opt, state, lr, keep_trajectory)
        else:  # the user's own step; paritybench's loss at the same weights on the same (whole) batch beside it
            new, state = record_and_step(rec, params, grads, user_step, state, x, y, rec["loss"], keep_trajectory)
        return (new, state), rec

    def train_one(params, x, y, lr):
        state = opt.init(params) if opt is not None else ()
        (final, _), recs = jax.lax.scan(lambda c, _: step(c, x, y, lr), (params, state), None, length=steps)
        return final, recs, measure(final, x, y)

    return jax.jit(jax.vmap(train_one, in_axes=(0, None, None, None)))


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
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    names = workload.model.names
    copies = [copy_weights(w, workload.model.params) for w in inits]
    params = {k: jnp.asarray(np.stack([c[k] for c in copies])) for k in names}
    args = (params, jnp.asarray(x), jnp.asarray(y), jnp.float32(spec.lr))
    key = program_key(workload, arm, spec, len(inits), x.shape)
    build = partial(_compiled_trainer, workload, arm, spec.steps, spec.keep_trajectory, spec.lr)
    (final, recs, last), compile_seconds, train_seconds = run_compiled(key, build, args)
    host = {k: np.asarray(v) for k, v in recs.items() if k not in ("params", "grads")}
    last = {k: np.asarray(v) for k, v in last.items()}
    final = {k: np.asarray(v) for k, v in final.items()}
    kept = trajectories(recs, final, names, len(inits), spec.steps) if spec.keep_trajectory else None
    n = x.shape[0]
    own = "step_loss" in host
    scored = heads.scored(workload.model.head, y.shape, y.dtype)  # labels or positions (n for one per sample)
    out = []
    for b in range(len(inits)):
        curves = step_curves(host, last, b, scored)
        result = ArmResult(
            curves=curves,
            final_weights={k: final[k][b] for k in names},
            info={
                "grad_norm_source": "autodiff",
                "train_seconds": train_seconds / len(inits),
                "compile_seconds": compile_seconds if b == 0 else 0.0,
                "batched_copies": len(inits),
                **({"user_step": step_loss_record(arm, host["step_loss"][b], host["own_loss"][b], n)} if own else {}),
            },
        )
        if kept:
            result.trajectory, result.grads = kept[b]
        out.append(result)
    return out


def evaluate_correct(workload: Workload, weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
    """The JAX float32 forward pass used for the weight swap."""
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    if minibatch.applies(workload):
        return minibatch.evaluate_correct(workload, weights, x, y)

    z = resolve_ref(workload.model.jax_apply)({k: jnp.asarray(v) for k, v in weights.items()}, jnp.asarray(x))
    return heads.count_correct(jnp, workload.model.head, z, jnp.asarray(y))


def optimizer_moments(opt_state) -> dict[str, np.ndarray]:
    """Adam's first and second moments in an optax state, as ``adam/mu/<param>`` then ``adam/nu/<param>``.

    Any node with dict-valued ``mu`` and ``nu`` counts: optax's ``ScaleByAdamState`` (inside ``adam``'s
    chain and inside ``inject_hyperparams``' ``inner_state``) and the workloads' own Keras-Adam state. Both
    hold the *uncorrected* moments, m = b1 m + (1 - b1) g and v = b2 v + (1 - b2) g^2, which is also what
    Keras's Adam keeps in its ``momentum``/``velocity`` variables (``keras/src/optimizers/adam.py``)."""
    mu: dict[str, np.ndarray] = {}
    nu: dict[str, np.ndarray] = {}

    def walk(s) -> None:
        m, v = getattr(s, "mu", None), getattr(s, "nu", None)
        if isinstance(m, dict) and isinstance(v, dict):
            mu.update({f"adam/mu/{p}": np.asarray(a) for p, a in m.items()})
            nu.update({f"adam/nu/{p}": np.asarray(a) for p, a in v.items()})
            return
        if isinstance(s, (tuple, list)):
            for c in s:
                walk(c)

    walk(opt_state)
    return {**mu, **nu}


def layers_ref(workload: Workload, arm: Arm):
    """The arm's named-layer forward pass: its own ``Arm.jax_layers``, else the model's where the arm uses the
    model's forward pass (an arm with its own ``jax_apply`` and no layers of its own shows logits only)."""
    if arm.jax_layers is not None:
        return arm.jax_layers
    return workload.model.jax_layers if arm.jax_apply is None else None


class ForwardOrder:
    """A named-layer function ``(params, x) -> {name: array}`` made to keep its own (forward) order through
    ``jax.jit``. A jitted function's output dict comes back in sorted key order (JAX flattens a dict as its
    sorted items, jax/_src/tree_util.py ``dict: ... sorted(xs.items())``), so ``{"z_first", "a_second"}``
    would be compared ``a_second`` first. ``values`` returns the outputs as a tuple in the function's own
    order and records their names when it runs (at trace time under jit); ``named`` pairs them again."""

    def __init__(self, layers_fn):
        self.layers_fn = layers_fn
        self.names: list[str] = []

    def values(self, *args) -> tuple:
        out = self.layers_fn(*args)
        self.names[:] = list(out)
        return tuple(out.values())

    def named(self, values) -> dict[str, np.ndarray]:
        return {n: np.asarray(v) for n, v in zip(self.names, values, strict=True)}


class MainEvaluator:
    """A JAX (float32) or f64 arm evaluated at given weights (and model state) in this process; keeps its
    optimizer state. Stateful and minibatch workloads go through the same program: the forward pass is
    ``arms.minibatch.stateful_apply`` (a stateless model's state is the empty dict)."""

    def __init__(self, workload: Workload, arm: Arm, lr: float, data: Batches, f64: bool):
        import jax  # late: a framework: loads after the numerics flags
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags

        self.f64 = f64
        self.dtype = np.float64 if f64 else np.float32
        self.data = data
        self.x, self.y = cast_data(data.x, self.dtype), cast_data(data.y, self.dtype)
        self.full = all(isinstance(s, slice) and s == slice(0, data.x.shape[0]) for s in data.slices)
        self.xh = None if data.xh is None else cast_data(data.xh, self.dtype)
        apply = stateful_apply(workload, arm)
        loss_fn = resolve_ref(arm.loss_fn)
        lref = layers_ref(workload, arm)
        self.order = ForwardOrder(resolve_ref(lref)) if lref is not None else None
        layers_fn = self.order.values if self.order is not None else None
        self.has_eval = self.xh is not None and bool(workload.model.state)

        def mean_loss(params, state, xb, yb):
            z, new_state = apply(params, xb, state, True)
            return jnp.mean(loss_fn(z, yb)), (z, new_state)

        def evaluate(params, state, xb, yb):
            (loss, (z, new_state)), g = jax.value_and_grad(mean_loss, has_aux=True)(params, state, xb, yb)
            # rows * d(mean loss)/dz (rows: n, or n * T for a sequence, heads.loss_rows): each sample's (position's)
            # own d loss/d logit for a per-sample loss, and still the
            # right quantity for one that broadcasts (label-shape) or mixes samples
            dz = heads.loss_rows(z.shape) * jax.grad(lambda zz: jnp.mean(loss_fn(zz, yb)))(z)
            layers = layers_fn(params, xb) if layers_fn is not None else ()
            return z, loss, dz, g, new_state, layers

        def inference(params, state, xh):
            return apply(params, xh, state, False)[0]

        with jax.enable_x64(f64):
            self._eval = jax.jit(evaluate)
            self._infer = jax.jit(inference)
            self._layers = jax.jit(layers_fn) if layers_fn is not None else None
            self.opt = resolve_ref(arm.optimizer)(lr) if arm.optimizer is not None else None
        self.step = resolve_ref(arm.jax_step) if arm.jax_step is not None else None
        self.lr = lr
        self.opt_state = None

    def batch(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.full:
            return self.x, self.y
        s = self.data.slices[k]
        return self.x[s], self.y[s]

    def _update(self, params, g, xb, yb) -> tuple[dict, dict]:
        """The arm's optimizer step from ``params`` with gradient ``g``: (change per parameter, moments). An arm
        with its own step (``Arm.jax_step``) takes it from ``params`` on the batch ``xb, yb`` with the state its
        step returned last (the optimizer's initial state at the first), and ``g`` plays no part: the change is
        what the user's step does, its own gradient and whatever it does to it included."""
        if self.opt is None:
            return {k: (params[k] - self.dtype(self.lr) * g[k]) - params[k] for k in g}, {}
        import optax  # late: a framework: loads after the numerics flags

        if self.opt_state is None:
            self.opt_state = self.opt.init(params)
        if self.step is not None:
            new, self.opt_state, _ = self.step(params, self.opt_state, xb, yb)
        else:
            u, self.opt_state = self.opt.update(g, self.opt_state, params)
            new = optax.apply_updates(params, u)
        return {k: np.asarray(new[k]) - params[k] for k in g}, optimizer_moments(self.opt_state)

    def _evaluation(self, params, new_state) -> dict[str, np.ndarray]:
        if not self.has_eval:
            return {}
        return {"holdout logits": np.asarray(self._infer(params, new_state, self.xh))}

    def at(self, w: dict[str, np.ndarray], state: dict[str, np.ndarray], k: int) -> Evaluation:
        import jax  # late: a framework: loads after the numerics flags

        with jax.enable_x64(self.f64):
            params = {p: np.asarray(v, self.dtype) for p, v in w.items()}
            st = {p: np.asarray(v, self.dtype) for p, v in state.items()}
            xb, yb = self.batch(k)
            z, loss, dz, g, new_state, layers = self._eval(params, st, xb, yb)
            g = {p: np.asarray(v) for p, v in g.items()}
            new_state = {p: np.asarray(v) for p, v in new_state.items()}
            upd, moments = self._update(params, g, xb, yb)
            return Evaluation(
                np.asarray(z),
                float(loss),
                np.asarray(dz),
                g,
                upd,
                self.order.named(layers) if self.order is not None else {},
                {**moments, **new_state},
                self._evaluation(params, new_state),
                new_state,
            )


def eval_forward_shape(workload: Workload, arm: Arm | None, x: np.ndarray) -> tuple[int, ...]:
    """The logits' shape for ``x`` by ``jax.eval_shape``: traced, nothing computed."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    apply = stateful_apply(workload, arm)
    params = {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in workload.model.params.items()}
    state = {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in workload.model.state.items()}
    xs = jax.ShapeDtypeStruct(x.shape, cast_data(x[:0], jnp.float32).dtype)  # token ids stay integers
    out = jax.eval_shape(lambda p, s, xx: apply(p, xx, s, True)[0], params, state, xs)
    return tuple(out.shape)


def eval_step(workload: Workload, arm: Arm, x: np.ndarray) -> None:
    """The arm's own step (``Arm.jax_step``) traced by ``jax.eval_shape`` on one batch of ``x``'s rows and labels of
    the forward pass's shape, from the optimizer's initial state: nothing computed, and a step that returns the
    wrong things is refused here, before training (the adapter's step checks what it returns as it is traced)."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    apply = stateful_apply(workload, arm)
    opt = resolve_ref(arm.optimizer)(1.0)
    params = {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in workload.model.params.items()}
    bs = workload.data.batch_size or x.shape[0]
    xb = jax.ShapeDtypeStruct((bs, *x.shape[1:]), jnp.float32)
    yb = jax.eval_shape(lambda p, xx: apply(p, xx, {}, True)[0], params, xb)
    state = jax.eval_shape(opt.init, params)
    jax.eval_shape(resolve_ref(arm.jax_step), params, state, xb, yb)


def update_once(arm: Arm, weights: Weights, grads: Weights, lr: float) -> Weights:
    """``arm``'s float32 step (``record_and_update``, the function its training program traces, jitted) from its
    optimizer's initial state at ``weights`` with ``grads``: the first step of its training, on given gradients."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    opt = resolve_ref(arm.optimizer)(lr) if arm.optimizer is not None else None

    def one(params, g, lr):
        state = opt.init(params) if opt is not None else ()
        return record_and_update({}, params, g, opt, state, lr, False)[0]

    params, g = ({k: jnp.asarray(np.asarray(d[k], np.float32)) for k in weights} for d in (weights, grads))
    return {k: np.asarray(v) for k, v in jax.jit(one)(params, g, lr).items()}


class JaxKind(Kind):
    """JAX arms in float32, trained in the harness's own process (every copy of a case in one vmapped program)."""

    name = "jax"
    holds_step_arrays = True

    def load_framework(self) -> ModuleType:
        import jax  # late: a framework: the shape check loads it after the numerics flags, before its time limit

        return jax

    def forward_key(self, workload: Workload, arm: Arm) -> object:
        key = ("jax", arm.jax_apply or workload.model.jax_apply)
        return key if arm.jax_step is None else (*key, arm.jax_step)  # an own step is checked per step

    def forward_shape(self, workload: Workload, arm: Arm, x: np.ndarray, init: dict) -> tuple[int, ...]:
        if arm.jax_step is not None:
            eval_step(workload, arm, x)
        return eval_forward_shape(workload, arm, x)

    def train_many(self, workload, arm, inits, x, y, spec, eval_data=None) -> list[ArmResult]:
        return train_many(workload, arm, inits, x, y, spec, eval_data)

    def evaluator(self, ctx, arm: Arm) -> MainEvaluator:
        return MainEvaluator(ctx.workload, arm, ctx.lr, ctx.batches_for(arm), f64=False)

    def update_once(self, arm: Arm, weights: Weights, grads: Weights, lr: float) -> Weights:
        return update_once(arm, weights, grads, lr)

    def conventions(self, workload, arm, lr, numerics, keras_rows=None) -> dict:
        main = numerics_rows(flags.read_back("jax", numerics))  # JAX configured before the optimizer is built
        return {**main_arm_rows(workload, arm, lr, self.dtype), **main}
