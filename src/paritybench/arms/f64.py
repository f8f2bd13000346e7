"""The float64 arbiter: the ground truth every float32 arm is measured against.

float64 has no saturation problem at the logits these workloads reach and its
rounding is ~1e-16, so what it computes is the exact trajectory to far below any
float32 difference. A workload may hand-write it in NumPy (``Model.f64_loss_and_grad``,
as seed-bce does, which keeps its committed hashes); otherwise it is the workload's
own JAX forward pass and the arm's loss, differentiated by JAX with float64 enabled
for this computation only (``jax.enable_x64``).
"""

from __future__ import annotations

import math
import time
from types import ModuleType

import numpy as np

from paritybench.arms import minibatch
from paritybench.arms.base import ArmResult, Evaluation, TrainSpec, weights_nonfinite
from paritybench.arms.jax_conventions import main_arm_rows, numerics_rows
from paritybench.arms.jax_trainer import MainEvaluator, eval_forward_shape
from paritybench.arms.kind import Batches, Kind
from paritybench.arms.minibatch import applies
from paritybench.experiment import flags, heads
from paritybench.experiment.weights import Weights, check_weights
from paritybench.workloads.base import Arm, Workload, resolve_ref


class Arbiter:
    """Float64 loss, gradient, logits and forward pass for one (workload, arm)."""

    def __init__(self, workload: Workload, arm: Arm | None = None):
        self.workload = workload
        self.arm = arm or workload.arm(workload.reference)
        m = workload.model
        self._lg = resolve_ref(m.f64_loss_and_grad) if m.f64_loss_and_grad else None
        self._fwd = resolve_ref(m.f64_forward) if m.f64_forward else None
        self._jax_lg = None

    def _jax_loss_and_grad(self):
        if self._jax_lg is None:
            import jax  # late: a framework: loads after the numerics flags
            import jax.numpy as jnp  # late: a framework: loads after the numerics flags

            apply = resolve_ref(self.arm.jax_apply or self.workload.model.jax_apply)
            loss_fn = resolve_ref(self.arm.loss_fn)

            def mean_loss(p, x, y):
                z = apply(p, x)
                return jnp.mean(loss_fn(z, y)), z

            with jax.enable_x64(True):
                self._jax_lg = jax.jit(jax.value_and_grad(mean_loss, has_aux=True))
        return self._jax_lg

    def loss_and_grad(self, w: Weights, x64: np.ndarray, y64: np.ndarray) -> tuple[float, Weights, np.ndarray]:
        """(mean loss, gradient, logits) at ``w``, all float64."""
        if self._lg is not None:
            return self._lg(w, x64, y64)
        import jax  # late: a framework: loads after the numerics flags

        with jax.enable_x64(True):
            (loss, z), g = self._jax_loss_and_grad()({k: np.asarray(v, np.float64) for k, v in w.items()}, x64, y64)
            return float(loss), {k: np.asarray(v, np.float64) for k, v in g.items()}, np.asarray(z, np.float64)

    def per_sample_dz(self, z: np.ndarray, y64: np.ndarray) -> np.ndarray:
        """d(per-sample loss)/d(logits) in float64, for the diagnostics."""
        if self.workload.model.head == "sigmoid":
            return heads.probabilities(np, "sigmoid", z) - y64  # the logits BCE's gradient
        import jax  # late: a framework: loads after the numerics flags
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags

        loss_fn = resolve_ref(self.arm.loss_fn)
        with jax.enable_x64(True):
            return np.asarray(jax.grad(lambda zz: jnp.sum(loss_fn(zz, y64)))(jnp.asarray(z, jnp.float64)))

    def forward(self, w: Weights, x: np.ndarray) -> np.ndarray:
        if self._fwd is not None:
            return self._fwd(w, x)
        import jax  # late: a framework: loads after the numerics flags

        with jax.enable_x64(True):
            apply = resolve_ref(self.workload.model.jax_apply)
            return np.asarray(apply({k: np.asarray(v, np.float64) for k, v in w.items()}, as64(x)))

    def grad_at(self, w: Weights, x64: np.ndarray, y64: np.ndarray) -> Weights:
        """The ground-truth gradient at any weights, for the agreement diagnostics."""
        return self.loss_and_grad({k: np.asarray(v, np.float64) for k, v in w.items()}, x64, y64)[1]

    # ``kind.Arbiter``: what the runner measures every arm against
    def run(self, init: Weights, x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> ArmResult:
        return train(self.workload, self.arm, init, x, y, spec, self)

    def batch_grad(self, w: Weights, xb: np.ndarray, yb: np.ndarray) -> Weights:
        if getattr(self, "_batch", None) is None:
            self._batch = minibatch.BatchArbiter(self.workload, self.arm)
        return self._batch.grad(w, xb, yb)

    def correct(self, weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
        return evaluate_correct(self.workload, weights, x, y)


def as64(y: np.ndarray) -> np.ndarray:
    """Samples or targets in float64, but integers (a softmax head's class ids, token ids) as int64: a sparse
    loss or an embedding indexes with them (``optax.softmax_cross_entropy_with_integer_labels`` refuses floats)."""
    return np.asarray(y, np.int64 if heads.integer(np.asarray(y).dtype) else np.float64)


def _optimizer(arm: Arm, lr: float):
    """``update(w, g) -> w`` in float64: plain SGD written out, or the arm's optax transform."""
    if arm.optimizer is None:
        return lambda w, g: {k: w[k] - lr * g[k] for k in w}
    import jax  # late: a framework: loads after the numerics flags
    import optax  # late: a framework: loads after the numerics flags

    with jax.enable_x64(True):
        opt = resolve_ref(arm.optimizer)(lr)
    state = None

    def update(w, g):
        nonlocal state
        with jax.enable_x64(True):
            if state is None:
                state = opt.init(w)
            u, state = opt.update(g, state, w)
            return {k: np.asarray(v, np.float64) for k, v in optax.apply_updates(w, u).items()}

    return update


def train(
    workload: Workload,
    arm: Arm,
    init: Weights,
    x: np.ndarray,
    y: np.ndarray,
    spec: TrainSpec,
    arbiter: Arbiter | None = None,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> ArmResult:
    """Train in float64 from ``init``; curves, diagnostics and (optionally) the trajectory."""
    if minibatch.applies(workload):  # minibatches or moving statistics: the JAX program in float64
        return minibatch.train_many(workload, arm, [init], x, y, spec, eval_data, f64=True)[0]
    check_weights(init, workload.model.params)
    arbiter = arbiter or Arbiter(workload, arm)
    head = workload.model.head
    t0 = time.perf_counter()
    names_ = workload.model.names
    w = {k: np.array(init[k], dtype=np.float64) for k in names_}
    x64, y64 = as64(x), as64(y)
    scored = heads.scored(head, y.shape, y.dtype)  # labels or positions (n for one per sample)
    update = _optimizer(arm, spec.lr)
    curves: dict[str, list] = {k: [] for k in ("loss", "correct", "grad_norm", "nonfinite", *heads.PER_STEP)}
    traj, grad_list = [], []
    for k in range(spec.steps + 1):
        loss, grads, z = arbiter.loss_and_grad(w, x64, y64)
        m = heads.measure(np, head, z, arbiter.per_sample_dz(z, y64), y64)
        curves["loss"].append(loss)
        curves["correct"].append(int(m.pop("correct")))
        curves["nonfinite"].append(not math.isfinite(loss) or weights_nonfinite(w))
        for name in heads.PER_STEP:
            curves[name].append(float(m[name]))
        if spec.keep_trajectory:
            traj.append({name: v.copy() for name, v in w.items()})
        if k == spec.steps:
            break
        curves["grad_norm"].append(math.sqrt(sum(float(np.sum(g * g)) for g in grads.values())))
        if spec.keep_trajectory:
            grad_list.append(grads)
        w = update(w, grads)
    curves["accuracy"] = [c / scored for c in curves["correct"]]
    # The artifact keeps float32 final weights like every other arm (so hashes
    # compare like with like); the float64 trajectory feeds the diagnostics.
    return ArmResult(
        curves=curves,
        final_weights={k: v.astype(np.float32) for k, v in w.items()},
        info={
            "grad_norm_source": "analytic" if arbiter._lg else "autodiff-f64",
            "train_seconds": time.perf_counter() - t0,
        },
        trajectory=traj or None,
        grads=grad_list or None,
    )


def train_many(
    workload: Workload,
    arm: Arm,
    inits: list[Weights],
    x: np.ndarray,
    y: np.ndarray,
    spec: TrainSpec,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
) -> list[ArmResult]:
    arbiter = Arbiter(workload, arm)
    return [train(workload, arm, w, x, y, spec, arbiter, eval_data) for w in inits]


def evaluate_correct(workload: Workload, weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
    """Float64 forward pass for the weight swap."""
    if minibatch.applies(workload):
        return minibatch.evaluate_correct(workload, weights, x, y, f64=True)
    z = Arbiter(workload).forward(weights, x)
    return heads.count_correct(np, workload.model.head, z, as64(y))


class F64Evaluator(MainEvaluator):
    """The float64 arbiter: a hand-written NumPy loss/gradient where the workload has one (full-batch and
    stateless only, as ``arms.f64`` uses it), else the same JAX program as the float32 arms in float64."""

    def __init__(self, workload: Workload, arm: Arm, lr: float, data: Batches):
        super().__init__(workload, arm, lr, data, f64=True)

        self.arbiter = Arbiter(workload, arm)
        self.hand = self.arbiter._lg is not None and not applies(workload)

    def at(self, w, state, k):
        if not self.hand:
            return super().at(w, state, k)
        import jax  # late: a framework: loads after the numerics flags

        w64 = {p: np.asarray(v, np.float64) for p, v in w.items()}
        loss, g, z = self.arbiter.loss_and_grad(w64, self.x, self.y)
        dz = self.arbiter.per_sample_dz(z, self.y)
        with jax.enable_x64(True):
            layers = {}
            if self.order is not None and self._layers is not None:
                layers = self.order.named(self._layers(w64, self.x))
            upd, moments = self._update(w64, g, self.x, self.y)
        return Evaluation(np.asarray(z), float(loss), np.asarray(dz), g, upd, layers, moments)


class F64Kind(Kind):
    """The float64 arbiter: the workload's reference arm (``Workload.reference``), in the harness's process."""

    name = "f64"
    float32_kind = "jax"  # the same JAX program in float32: localize's noise floor

    def arbiter(self, workload: Workload, arm: Arm) -> Arbiter:
        return Arbiter(workload, arm)

    def load_framework(self) -> ModuleType:
        import jax  # late: a framework: the shape check loads it after the numerics flags, before its time limit

        return jax

    def forward_key(self, workload: Workload, arm: Arm) -> object:
        return ("jax", arm.jax_apply or workload.model.jax_apply)  # its float32 twin's: the same function

    def forward_shape(self, workload: Workload, arm: Arm, x: np.ndarray, init: dict) -> tuple[int, ...]:
        return eval_forward_shape(workload, arm, x)

    dtype = np.float64

    def train_many(self, workload, arm, inits, x, y, spec, eval_data=None) -> list[ArmResult]:
        return train_many(workload, arm, inits, x, y, spec, eval_data)

    def evaluator(self, ctx, arm: Arm) -> F64Evaluator:
        return F64Evaluator(ctx.workload, arm, ctx.lr, ctx.batches_for(arm))

    def conventions(self, workload, arm, lr, numerics, keras_rows=None) -> dict:
        main = numerics_rows(flags.read_back("jax", numerics))  # JAX configured before the optimizer is built
        rows = {**main_arm_rows(workload, arm, lr, self.dtype), **main}
        rows["matmul precision"] = "float64"
        return rows
