"""Where two arms part: the first (step, phase, tensor) at which their difference leaves the noise floor.

At every step k both arms of a pair are evaluated at the *same* weights, arm A's trajectory weights w_k
(teacher forcing): each arm computes its logits (forward), its mean loss and per-sample d loss / d logit
(loss), its gradient of every parameter (backward) and its optimizer's change to every parameter (update;
each arm's optimizer keeps its own state, fed its own gradients at A's weights). A difference found at
step k is therefore made at step k, never inherited from an earlier one.

The noise floor: at the same weights, the reference arm's computation run in float32 (``ref32``: the
arbiter's own forward pass, loss and optimizer, by JAX in float32) differs from the float64 arbiter only
by float32 rounding; that difference, per tensor, is the tensor's rounding scale
``s = max(||ref32 - ref64||, 2**-24 ||ref64||)``. A pair's ratio is ``||A - B|| / s``; it *parts* where the
ratio exceeds ``FACTOR``, or where exactly one side is non-finite. ``FACTOR`` and its evidence: see
``FACTOR_EVIDENCE``.

Chaotic growth: after a pair parts, the free-running trajectories (each arm from the same initial weights
on its own) are compared step by step; where their distance grows geometrically it is reported once, as
growth from a step at a rate, not as further divergences.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paritybench.workloads.base import Arm, Workload, resolve_ref

# Measured (see notes-readme-localize.md, `paritybench localize --format json`): stable float32 arms
# that implement the reference's convention stay within a small multiple of the floor at every step and
# tensor: keras-tensorflow vs reference-f64 on seed-bce (TensorFlow + oneDNN kernels, another summation
# order), jax-same on same-padding, jax-keras-adam on adam-epsilon, jax-sgd-l2 on l2-weight-decay. The
# factor sits well above the largest such ratio and far below the smallest ratio of a real convention
# difference (set after the measurement below).
FACTOR = 100.0
FACTOR_EVIDENCE = ("seed-bce, seed 0, window 0, 10 steps (paritybench localize --out): jax-logits 1.0 (the floor's own "
                   "program), keras-tensorflow 43.3 at most (dense_0/bias gradient, step 1); the smallest real "
                   "parting, the clipped losses' d loss/d logit at step 0, 1.15e6")
PHASES = ("forward", "loss", "backward", "update")


@dataclass
class Evaluation:
    """One arm's tensors at one step's weights."""

    logits: np.ndarray
    loss: float
    dz: np.ndarray
    grads: dict[str, np.ndarray]
    update: dict[str, np.ndarray] | None


class MainEvaluator:
    """A JAX (float32) or f64 arm evaluated at given weights in this process; keeps its optimizer state."""

    def __init__(self, workload: Workload, arm: Arm, lr: float, x: np.ndarray, y: np.ndarray, f64: bool):
        import jax
        import jax.numpy as jnp

        self.f64 = f64
        self.dtype = np.float64 if f64 else np.float32
        self.x, self.y = x.astype(self.dtype), y.astype(self.dtype)
        apply = resolve_ref(arm.jax_apply or workload.model.jax_apply)
        loss_fn = resolve_ref(arm.loss_fn)
        n = x.shape[0]

        def mean_loss(params, z_only=None):
            z = apply(params, self.x)
            return jnp.mean(loss_fn(z, self.y)), z

        def evaluate(params):
            (loss, z), g = jax.value_and_grad(mean_loss, has_aux=True)(params)
            # n * d(mean loss)/dz: each sample's own d loss/d logit for a per-sample loss, and still the
            # right quantity for one that broadcasts (label-shape) or mixes samples
            dz = n * jax.grad(lambda zz: jnp.mean(loss_fn(zz, self.y)))(z)
            return z, loss, dz, g

        with jax.enable_x64(f64):
            self._eval = jax.jit(evaluate)
            self.opt = resolve_ref(arm.optimizer)(lr) if arm.optimizer is not None else None
        self.lr = lr
        self.state = None

    def at(self, w: dict[str, np.ndarray]) -> Evaluation:
        import jax

        with jax.enable_x64(self.f64):
            params = {k: np.asarray(v, self.dtype) for k, v in w.items()}
            z, loss, dz, g = self._eval(params)
            g = {k: np.asarray(v) for k, v in g.items()}
            if self.opt is None:
                upd = {k: (params[k] - self.dtype(self.lr) * g[k]) - params[k] for k in g}
            else:
                import optax

                if self.state is None:
                    self.state = self.opt.init(params)
                u, self.state = self.opt.update(g, self.state, params)
                new = optax.apply_updates(params, u)
                upd = {k: np.asarray(new[k]) - params[k] for k in g}
            return Evaluation(np.asarray(z), float(loss), np.asarray(dz), g, upd)


class F64Evaluator(MainEvaluator):
    """The float64 arbiter: a hand-written NumPy loss/gradient where the workload has one, else JAX in f64."""

    def __init__(self, workload: Workload, arm: Arm, lr: float, x, y):
        super().__init__(workload, arm, lr, x, y, f64=True)
        from paritybench.arms.f64 import Arbiter, _optimizer

        self.arbiter = Arbiter(workload, arm)
        self.update_fn = _optimizer(arm, lr)

    def at(self, w):
        w64 = {k: np.asarray(v, np.float64) for k, v in w.items()}
        loss, g, z = self.arbiter.loss_and_grad(w64, self.x, self.y)
        if self.arbiter._lg is not None:  # the hand-written arbiter: its per-sample dz
            dz = self.arbiter.per_sample_dz(z, self.y)
        else:
            dz = super().at(w).dz
        new = self.update_fn(w64, g)
        return Evaluation(np.asarray(z), float(loss), np.asarray(dz), g, {k: new[k] - w64[k] for k in g})


class RecordedEvaluator:
    """A Keras arm's per-step arrays from its inspection worker (its own trajectory, or given weights)."""

    def __init__(self, arrays: dict[str, np.ndarray], names):
        self.a, self.names, self.k = arrays, names, 0

    def weights(self, k: int) -> dict[str, np.ndarray]:
        return {p: self.a[f"k{k}/weights/{p}"] for p in self.names}

    def at_step(self, k: int) -> Evaluation:
        a = self.a
        return Evaluation(a[f"k{k}/logits"], float(a[f"k{k}/loss"]), a[f"k{k}/dz"],
                          {p: a[f"k{k}/grad/{p}"] for p in self.names},
                          {p: a[f"k{k}/update/{p}"] for p in self.names})


def _norm(a) -> float:
    a = np.asarray(a, np.float64)
    return float(np.sqrt(np.sum(a * a)))


@dataclass
class Check:
    step: int
    phase: str
    tensor: str
    ratio: float
    detail: str = ""
    nonfinite: bool = False

    @property
    def parts(self) -> bool:
        return self.nonfinite or self.ratio > FACTOR


def _compare(step, phase, tensor, a, b, ref32, ref64) -> Check:
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    fa, fb = bool(np.all(np.isfinite(a))), bool(np.all(np.isfinite(b)))
    if fa != fb:
        which = f"{int(np.sum(~np.isfinite(a if not fa else b)))} of {a.size} non-finite"
        return Check(step, phase, tensor, math.inf, f"{which} (other side: finite)", nonfinite=True)
    if not fa:
        return Check(step, phase, tensor, 0.0, "both non-finite")
    r64 = np.asarray(ref64, np.float64)
    scale = max(_norm(np.asarray(ref32, np.float64) - r64), 2.0**-24 * _norm(r64), 1e-300)
    return Check(step, phase, tensor, _norm(a - b) / scale)


@dataclass
class PairResult:
    a: str
    b: str
    checks: list[Check] = field(default_factory=list)
    first: Check | None = None
    parted_tensors: list[str] = field(default_factory=list)
    growth: dict[str, Any] | None = None
    max_ratio: float = 0.0

    def line(self) -> str:
        if self.first is None:
            return f"{self.a} vs {self.b}: never part (largest ratio to the noise floor {self.max_ratio:.3g}, " \
                   f"factor {FACTOR:g})"
        f = self.first
        what = f.detail or f"{f.ratio:.3g} x the noise floor"
        tail = "" if len(self.parted_tensors) <= 1 else f" (at that step and phase: {', '.join(self.parted_tensors)})"
        g = ""
        if self.growth and self.growth.get("chaotic"):
            g = f"; then chaotic growth from step {self.growth['from_step']}, x{self.growth['rate']:.3g} per step"
        return f"{self.a} vs {self.b}: step {f.step}, {f.phase}, {f.tensor}: {what}{tail}{g}"

    def to_dict(self) -> dict:
        first = None if self.first is None else {
            "step": self.first.step, "phase": self.first.phase, "tensor": self.first.tensor,
            "ratio": None if math.isinf(self.first.ratio) else self.first.ratio, "detail": self.first.detail}
        return {"a": self.a, "b": self.b, "first": first, "tensors_at_first": self.parted_tensors,
                "growth": self.growth, "max_ratio": None if math.isinf(self.max_ratio) else self.max_ratio,
                "checks": [{"step": c.step, "phase": c.phase, "tensor": c.tensor,
                            "ratio": None if math.isinf(c.ratio) else c.ratio, "nonfinite": c.nonfinite}
                           for c in self.checks],
                "line": self.line()}


def compare_step(k: int, ea: Evaluation, eb: Evaluation, r32: Evaluation, r64: Evaluation, names,
                 b_label: str = "other") -> list[Check]:
    """Every (phase, tensor) check at step k, in phase order."""
    out = [_compare(k, "forward", "logits", ea.logits, eb.logits, r32.logits, r64.logits)]
    lv = _compare(k, "loss", "value", ea.loss, eb.loss, r32.loss, r64.loss)
    if lv.nonfinite:
        lv.detail = f"non-finite ({ea.loss:g} vs {eb.loss:g})"
    out.append(lv)
    dzc = _compare(k, "loss", "d loss/d logit", ea.dz, eb.dz, r32.dz, r64.dz)
    per = ea.dz.reshape(ea.dz.shape[0], -1)
    pb = eb.dz.reshape(eb.dz.shape[0], -1)
    za, zb = int(np.sum(np.all(per == 0, axis=1))), int(np.sum(np.all(pb == 0, axis=1)))
    if za != zb:
        dzc.detail = f"{za} of {per.shape[0]} samples zero ({b_label}: {zb})"
    out.append(dzc)
    for p in names:
        out.append(_compare(k, "backward", p, ea.grads[p], eb.grads[p], r32.grads[p], r64.grads[p]))
    if ea.update is not None and eb.update is not None:
        for p in names:
            out.append(_compare(k, "update", p, ea.update[p], eb.update[p], r32.update[p], r64.update[p]))
    return out


def growth(dist: list[float], start: int) -> dict[str, Any]:
    """Geometric growth of the free-running distance from ``start``: chaotic when it grows > 10x overall
    at more than 1.5x per step (a convention gap that stays the same size is not chaos)."""
    d = [x for x in dist[start:]]
    pos = [(i + start, x) for i, x in enumerate(d) if x > 0 and math.isfinite(x)]
    if len(pos) < 2:
        return {"chaotic": False, "distance": dist}
    (i0, d0), (i1, d1) = pos[0], pos[-1]
    rate = (d1 / d0) ** (1.0 / (i1 - i0))
    return {"chaotic": bool(d1 / d0 > 10 and rate > 1.5), "from_step": i0, "rate": rate, "distance": dist}


def _dist(wa, wb) -> float:
    return math.sqrt(sum(float(np.sum((np.asarray(wa[p], np.float64) - np.asarray(wb[p], np.float64)) ** 2))
                         for p in wa))


@dataclass
class Context:
    workload: Workload
    lr: float
    steps: int
    x: np.ndarray
    y: np.ndarray
    init: dict[str, np.ndarray]
    numerics: Any
    window: int = 0
    n: int = 1000
    normalize: bool = False
    data_path: str | None = None
    data_sha256: str | None = None
    seconds: dict = field(default_factory=dict)


def _keras_arrays(ctx: Context, arm: Arm, given: list | None) -> dict[str, np.ndarray]:
    import os
    import tempfile

    from paritybench.arms.keras_inspect import run_job
    from paritybench.experiment.weights import save_weights_npz

    with tempfile.TemporaryDirectory(prefix="pb-localize-") as tmp:
        init_file = os.path.join(tmp, "init.npz")
        save_weights_npz(init_file, {"w": ctx.init})
        job = {"mode": "localize", "workload": ctx.workload.origin.get("spec", ctx.workload.name), "arm": arm.name,
               "lr": ctx.lr, "steps": ctx.steps, "window": ctx.window, "n": ctx.n, "normalize": ctx.normalize,
               "data_path": ctx.data_path, "data_sha256": ctx.data_sha256, "init_file": init_file}
        if given is not None:
            job["weights_file"] = os.path.join(tmp, "given.npz")
            save_weights_npz(job["weights_file"], {f"k{i}": w for i, w in enumerate(given)})
        t = time.perf_counter()
        res = run_job(arm.process.removeprefix("keras-"), job, ctx.numerics)
        ctx.seconds[arm.name] = time.perf_counter() - t
        return res["arrays"]


def _main_evaluator(ctx: Context, arm: Arm):
    if arm.kind == "torch":  # native torch, in this process
        from paritybench.arms.torch_trainer import TorchEvaluator

        return TorchEvaluator(ctx.workload, arm, ctx.lr, ctx.x, ctx.y, ctx.numerics)
    if arm.kind == "f64":
        return F64Evaluator(ctx.workload, arm, ctx.lr, ctx.x, ctx.y)
    return MainEvaluator(ctx.workload, arm, ctx.lr, ctx.x, ctx.y, f64=False)


def _trajectory(ctx: Context, arm: Arm) -> tuple[list[dict], list[Evaluation]]:
    """An arm's own (free-running) trajectory w_0..w_steps and its evaluation at each w_k."""
    names = ctx.workload.model.names
    if arm.kind == "keras":
        rec = RecordedEvaluator(_keras_arrays(ctx, arm, None), names)
        return [rec.weights(k) for k in range(ctx.steps + 1)], [rec.at_step(k) for k in range(ctx.steps)]
    ev = _main_evaluator(ctx, arm)
    dt = np.float64 if arm.kind == "f64" else np.float32
    w = {k: np.asarray(v, dt) for k, v in ctx.init.items()}
    traj, evals = [w], []
    for _ in range(ctx.steps):
        e = ev.at(w)
        evals.append(e)
        w = {k: (w[k] + e.update[k]).astype(dt) for k in w}
        traj.append(w)
    return traj, evals


def _at_weights(ctx: Context, arm: Arm, traj: list[dict]) -> list[Evaluation]:
    """``arm`` evaluated at each of ``traj``'s weights (teacher forcing), its optimizer state its own."""
    if arm.kind == "keras":
        rec = RecordedEvaluator(_keras_arrays(ctx, arm, [{k: np.asarray(v, np.float32) for k, v in w.items()}
                                                         for w in traj]), ctx.workload.model.names)
        return [rec.at_step(k) for k in range(ctx.steps)]
    ev = _main_evaluator(ctx, arm)
    return [ev.at(w) for w in traj[:ctx.steps]]


def localize_pair(ctx: Context, a: Arm, b: Arm, cache: dict) -> PairResult:
    """The first parting of ``a`` and ``b`` along ``a``'s trajectory, and the growth that follows it."""
    wl = ctx.workload
    names = wl.model.names
    ref = wl.arm(wl.reference)
    t0 = time.perf_counter()
    if ("traj", a.name) not in cache:
        cache[("traj", a.name)] = _trajectory(ctx, a)
    traj_a, evals_a = cache[("traj", a.name)]
    evals_b = _at_weights(ctx, b, traj_a)
    # the floor at A's weights: the reference's computation in float32 and in float64
    ref32 = _at_weights(ctx, _as_float32(ref), traj_a)
    ref64 = evals_b if b.name == ref.name else _at_weights(ctx, ref, traj_a)
    result = PairResult(a.name, b.name)
    for k in range(ctx.steps):
        checks = compare_step(k, evals_a[k], evals_b[k], ref32[k], ref64[k], names,
                              "reference" if b.name == ref.name else b.name)
        result.checks += checks
        if result.first is None:
            parted = [c for c in checks if c.parts]
            if parted:
                same = [c for c in parted if c.phase == parted[0].phase]
                result.first = _headline(same)
                result.parted_tensors = [c.tensor for c in same]
    finite = [c.ratio for c in result.checks if math.isfinite(c.ratio)]
    result.max_ratio = max(finite) if finite else math.inf
    if result.first is not None:
        if ("traj", b.name) not in cache:
            cache[("traj", b.name)] = _trajectory(ctx, b)
        traj_b = cache[("traj", b.name)][0]
        dist = [_dist(wa, wb) for wa, wb in zip(traj_a, traj_b, strict=True)]
        result.growth = growth(dist, result.first.step + 1)
    ctx.seconds[f"{a.name} vs {b.name}"] = time.perf_counter() - t0
    return result


def _headline(parted: list[Check]) -> Check:
    """The check named first among those that part in one phase at one step: a non-finite value (it
    poisons everything after it), else d loss/d logit (what changes training; a loss value that parts
    with it is listed beside), else the first in order."""
    nonfinite = [c for c in parted if c.nonfinite]
    if nonfinite:
        return nonfinite[0]
    return next((c for c in parted if c.tensor == "d loss/d logit"), parted[0])


def _as_float32(ref: Arm) -> Arm:
    """The reference arm's own forward pass, loss and optimizer, run as a float32 JAX arm: the floor."""
    from dataclasses import replace

    return replace(ref, name=ref.name + "-as-float32", kind="jax")


def bytes_per_step(workload: Workload, n: int, arms: int) -> int:
    """Bytes held per step and evaluated arm: weights, gradient and update of every parameter (float64
    for the arbiter, counted as 8 bytes for all: an upper bound) plus logits and d loss/d logit."""
    params = sum(int(np.prod(s)) for s in workload.model.params.values())
    out = 10 if workload.model.head == "softmax" else 1
    return arms * 8 * (3 * params + 2 * n * out)


def pairs_for(workload: Workload, names: tuple[str, ...]) -> list[tuple[Arm, Arm]]:
    """``--arms A,B``: that pair; otherwise every arm against the float64 arbiter."""
    if len(names) == 2:
        return [(workload.arm(names[0]), workload.arm(names[1]))]
    ref = workload.arm(workload.reference)
    arms = workload.resolve_arms(names) if names else workload.arms
    return [(a, ref) for a in arms if a.name != ref.name and not a.needs_gpu]
