"""Where two arms part: the first (step, phase, tensor) at which their difference leaves the noise floor.

At every step k both arms of a pair are evaluated at the *same* weights, arm A's trajectory weights w_k
(teacher forcing), and, for a stateful model, at A's model state s_k (BatchNormalization's moving
statistics). Each arm computes, on step k's training rows (the whole window, or batch ``k mod (n /
batch_size)`` in window order for a minibatch workload, as ``arms.minibatch`` trains):

- forward: each named layer's output in forward order (``Model.jax_layers`` in the order the function builds
  its dict; Keras: ``Model.keras_layers`` in the Keras model's layer order, and with ``Model.keras_weighted_layers``
  every layer with weights, before a fused activation; torch: ``Model.torch_layers``), then the logits; a name
  whose shapes differ between the sides is left out, with the reason (``shape_mismatches``);
- loss: the mean loss, and the per-sample d loss / d logit;
- backward: the gradient of every parameter;
- update: the optimizer's change to every parameter, then its state after the step (Adam's moments,
  ``adam/mu/<param>``, ``adam/nu/<param>``; each arm's optimizer keeps its own state, fed its own gradients
  at A's weights) and the model state after the step (``bn/moving_mean``: the arm's own moving-average
  rule applied to A's state s_k and the step's batch);
- evaluation (stateful models with ``Data.holdout``): the inference-mode logits on the held-out window at
  A's weights w_k with the arm's new model state from the update phase (so a moving-statistics convention
  shows here, and a training-mode forward pass that is identical does not hide it).

A difference found at step k is therefore made at step k, never inherited from an earlier one.

The noise floor: at the same weights, the reference arm's computation run in float32 (``ref32``: the
arbiter's own forward pass, loss and optimizer, by JAX in float32, or by torch in float32 for a torch arbiter,
``Kind.float32_kind``) differs from the float64 arbiter only
by float32 rounding; that difference, per tensor, is the tensor's rounding scale
``s = max(||ref32 - ref64||, 2**-24 ||ref64||)``, and no less than the largest relative floor
``||ref32 - ref64|| / ||ref64||`` the same tensor showed at the earlier steps times ``||ref64||`` (see ``_compare``).
A pair's ratio is ``||A - B|| / s``; it *parts* where the ratio exceeds ``FACTOR``, or where exactly one
side is non-finite. ``FACTOR`` and its evidence: see
``FACTOR_EVIDENCE``.

Chaotic growth: after a pair parts, the free-running trajectories (each arm from the same initial weights
on its own) are compared step by step; where their distance grows geometrically it is reported once, as
growth from a step at a rate, not as further divergences.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from paritybench.arms.base import Evaluation, cast_data
from paritybench.arms.kind import Batches
from paritybench.arms.minibatch import arm_rows, batch_slices
from paritybench.arms.registry import kind_of
from paritybench.arms.requirements import missing_requirements
from paritybench.artifact import num
from paritybench.errors import ParityError
from paritybench.experiment import data, heads
from paritybench.experiment.weights import copy_weights
from paritybench.workloads import datasource
from paritybench.workloads.base import Arm, Workload, resolve_ref

# Measured with bench/localize_factor.py (``paritybench localize --workload W --out W.json``, every arm against the
# arbiter at each built-in workload's preset, seed 0, window 0, CPU): the pairs that implement the reference's
# convention in float32 (its own program, Keras arms and emulations) stay at most 45.6x the floor; the smallest
# real convention parting is 3.73e3x. FACTOR = 100 sits between. One arm sits AT the factor for a real reason:
# jax-adam-eps-scaled's optax.inject_hyperparams turns b2 into a float32 array, so its 1 - b2 is
# 1 - f32(0.999) = 9.9998713e-4, not f32(0.001) as in Keras's and the reference's Adam (optax
# tree_utils/_tree_math.py ``(1 - decay) * g**order``): its second moment is 1.3e-5 larger relative, 87.9x the
# floor at seed 0 (106x, parting, at seed 1 window 1000): a real, harmless difference, not noise.
FACTOR = 100.0
FACTOR_EVIDENCE = (
    "bench/localize_factor.py, every arm vs reference-f64, each built-in workload's preset, seed 0, window 0, CPU. "
    "Largest ratio of a pair implementing the reference's convention: seed-bce keras-tensorflow 43.3 (dense_0/bias "
    "gradient, step 1), softmax-ce keras-tensorflow 42.1, adam-epsilon keras-tensorflow 11.3, l2-weight-decay "
    "keras-tensorflow 11.3, label-shape jax-keras-torch-clip 4.91, same-padding keras-tensorflow 45.6 (conv/bias "
    "gradient, step 0), tf32-matmul keras-tensorflow 6.55, gpu-nondeterminism jax-onehot-keras-clip 22.9, "
    "batchnorm-momentum keras-tensorflow 2.15 (teacher-forced moving statistics). "
    "Smallest real parting (first parting's ratio): l2-weight-decay "
    "jax-sgd-decay-literal 3.73e3 (kernel update, step 0), adam-epsilon jax-adam-literal 9.54e3, batchnorm-momentum "
    "jax-torch-bn 1.94e4 (training forward, epsilon), softmax-ce clipped losses 7.56e5, seed-bce 1.15e6. "
    "localize found one real difference below the factor: jax-adam-eps-scaled's injected b2 was a float32 array "
    "(1 - b2 = 9.9998713e-4), 87.9 at seed 0 and 106 at seed 1; b2 is now static and the arm reads 1.33."
)
PHASES = ("forward", "loss", "backward", "update", "evaluation")


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


def _compare(step, phase, tensor, a, b, ref32, ref64, history: dict | None = None) -> Check:
    """One tensor's check. ``history`` (per pair, across steps): the largest relative floor
    ``||ref32 - ref64|| / ||ref64||`` this tensor showed at the earlier steps, a lower bound on its scale now.

    Why pooled: the floor is ONE float32 program's rounding (XLA's, whose batch reductions are tree-shaped and
    accurate) at one step, and a batch sum's rounding at one step can fall far below its typical size by
    chance (measured, softmax-ce, keras-tensorflow's trajectory, dense_1/bias gradient: floor 3.3e-8 at step
    8 against 4.6e-8..3.8e-7 at the other steps, for a tensor of norm 0.3..0.95). A correct float32 program
    with another summation order (TensorFlow's) then reads as 142x the floor at that step. The tensor's
    rounding scale relative to its size changes slowly, so the largest relative floor seen so far is a fair
    floor for the current step (causal: a step's verdict never depends on later steps)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    fa, fb = bool(np.all(np.isfinite(a))), bool(np.all(np.isfinite(b)))
    if fa != fb:
        which = f"{int(np.sum(~np.isfinite(a if not fa else b)))} of {a.size} non-finite"
        return Check(step, phase, tensor, math.inf, f"{which} (other side: finite)", nonfinite=True)
    if not fa:
        return Check(step, phase, tensor, 0.0, "both non-finite")
    r64 = np.asarray(ref64, np.float64)
    floor, size = _norm(np.asarray(ref32, np.float64) - r64), _norm(r64)
    scale = max(floor, 2.0**-24 * size, 1e-300)
    if history is not None:
        key = (phase, tensor)
        scale = max(scale, history.get(key, 0.0) * size)
        if size > 0 and math.isfinite(floor):
            history[key] = max(history.get(key, 0.0), floor / size)
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
    # the other phases' tensors that part at the first parting's step (the moving statistics and the
    # evaluation that reads them: one cause, seen twice)
    later_phases: list[str] = field(default_factory=list)
    # forward-phase tensors every side names but not with one shape (shape_mismatches): tensor -> why
    left_out: dict[str, str] = field(default_factory=dict)

    def left_out_line(self) -> str | None:
        """One line naming the tensors left out of the comparison and why (None where none was)."""
        if not self.left_out:
            return None
        return f"{self.a} vs {self.b}: left out: " + "; ".join(f"{t}: {why}" for t, why in self.left_out.items())

    def line(self) -> str:
        if self.first is None:
            return (
                f"{self.a} vs {self.b}: never part (largest ratio to the noise floor {self.max_ratio:.3g}, "
                f"factor {FACTOR:g})"
            )
        f = self.first
        what = f.detail or f"{f.ratio:.3g} x the noise floor"
        tail = "" if len(self.parted_tensors) <= 1 else f" (at that step and phase: {', '.join(self.parted_tensors)})"
        # a few other tensors parting at that step are named (the moving statistics' evaluation); the
        # usual cascade (a loss that parts takes every gradient and update with it) stays in the JSON
        if 0 < len(self.later_phases) <= 3:
            by: dict[str, list[str]] = {}
            for pt in self.later_phases:
                ph, _, t = pt.partition(": ")
                by.setdefault(ph, []).append(t)
            tail += "; at that step also " + "; ".join(
                f"{ph}: {', '.join(ts)}" if len(ts) <= 2 else f"{ph}: {len(ts)} tensors" for ph, ts in by.items()
            )
        g = ""
        if self.growth and self.growth.get("chaotic"):
            g = f"; then chaotic growth from step {self.growth['from_step']}, x{self.growth['rate']:.3g} per step"
        return f"{self.a} vs {self.b}: step {f.step}, {f.phase}, {f.tensor}: {what}{tail}{g}"

    def to_dict(self) -> dict:
        first = (
            None
            if self.first is None
            else {
                "step": self.first.step,
                "phase": self.first.phase,
                "tensor": self.first.tensor,
                "ratio": None if math.isinf(self.first.ratio) else self.first.ratio,
                "detail": self.first.detail,
            }
        )
        return {
            "a": self.a,
            "b": self.b,
            "first": first,
            "tensors_at_first": self.parted_tensors,
            "later_phases_at_first": self.later_phases,
            # a trajectory that went non-finite has NaN distances: "nan" in JSON, as artifacts write them
            "growth": None
            if self.growth is None
            else {**self.growth, "distance": [num(d) for d in self.growth["distance"]]},
            "max_ratio": None if math.isinf(self.max_ratio) else self.max_ratio,
            "checks": [
                {
                    "step": c.step,
                    "phase": c.phase,
                    "tensor": c.tensor,
                    "ratio": None if math.isinf(c.ratio) else c.ratio,
                    "nonfinite": c.nonfinite,
                }
                for c in self.checks
            ],
            "line": self.line(),
            # only where a tensor was left out, so the records of workloads whose tensors all match are unchanged
            **({"left_out": dict(self.left_out)} if self.left_out else {}),
        }


def _common(*ds: dict) -> list[str]:
    """The keys every side has with the same shape, in the first side's order (a tensor one side lacks is not
    compared, nor one whose shapes differ: :func:`shape_mismatches` names those)."""
    return [k for k in ds[0] if all(k in d and np.shape(d[k]) == np.shape(ds[0][k]) for d in ds[1:])]


def shape_mismatches(sides: dict[str, dict]) -> dict[str, str]:
    """{tensor: why it is left out} for the tensors every side has but not with one shape: the frameworks' layer
    outputs under one name need not be the same thing (a Keras ``LSTM(16)`` gives the last step ``(n, 16)``, a
    torch ``nn.LSTM`` the sequence ``(n, 28, 16)``), so such a pair is never compared, and says so.
    ``sides``: label -> {tensor: array}, in the order the reason lists them."""
    ds = list(sides.values())
    out = {}
    for k in ds[0]:
        if all(k in d for d in ds[1:]) and len({np.shape(d[k]) for d in ds}) > 1:
            shapes = ", ".join(f"{label} {tuple(np.shape(d[k]))}" for label, d in sides.items())
            out[k] = f"shapes differ ({shapes}): not compared"
    return out


def compare_step(
    k: int,
    ea: Evaluation,
    eb: Evaluation,
    r32: Evaluation,
    r64: Evaluation,
    names,
    b_label: str = "other",
    history: dict | None = None,
    head: str = "linear",
    unit: str = "sample",
) -> list[Check]:
    """Every (phase, tensor) check at step k, in phase order: forward (each named layer, then the logits),
    loss, backward, update (each parameter's change, then the optimizer's moments and the model's state) and
    evaluation (inference mode on the held-out window). ``head`` and ``unit``: what a zero d loss/d logit is
    counted per (``heads.dead_mask``: a sample, a label or a position) and its name."""

    def _cmp(*args) -> Check:
        return _compare(*args, history=history)

    out = [
        _cmp(k, "forward", t, ea.layers[t], eb.layers[t], r32.layers[t], r64.layers[t])
        for t in _common(ea.layers, eb.layers, r32.layers, r64.layers)
    ]
    out.append(_cmp(k, "forward", "logits", ea.logits, eb.logits, r32.logits, r64.logits))
    lv = _cmp(k, "loss", "value", ea.loss, eb.loss, r32.loss, r64.loss)
    if lv.nonfinite:
        lv.detail = f"non-finite ({ea.loss:g} vs {eb.loss:g})"
    out.append(lv)
    dzc = _cmp(k, "loss", "d loss/d logit", ea.dz, eb.dz, r32.dz, r64.dz)
    per, pb = heads.dead_mask(np, head, np.asarray(ea.dz)), heads.dead_mask(np, head, np.asarray(eb.dz))
    za, zb = int(np.sum(per)), int(np.sum(pb))
    if za != zb:
        dzc.detail = f"{za} of {per.size} {unit}s zero ({b_label}: {zb})"
    out.append(dzc)
    for p in names:
        out.append(_cmp(k, "backward", p, ea.grads[p], eb.grads[p], r32.grads[p], r64.grads[p]))
    if ea.update is not None and eb.update is not None:
        for p in names:
            out.append(_cmp(k, "update", p, ea.update[p], eb.update[p], r32.update[p], r64.update[p]))
    for t in _common(ea.state, eb.state, r32.state, r64.state):
        out.append(_cmp(k, "update", t, ea.state[t], eb.state[t], r32.state[t], r64.state[t]))
    for t in _common(ea.evaluation, eb.evaluation, r32.evaluation, r64.evaluation):
        out.append(_cmp(k, "evaluation", t, ea.evaluation[t], eb.evaluation[t], r32.evaluation[t], r64.evaluation[t]))
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
    return math.sqrt(
        sum(float(np.sum((np.asarray(wa[p], np.float64) - np.asarray(wb[p], np.float64)) ** 2)) for p in wa)
    )


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
    # Data.holdout: the held-out window the evaluation phase runs on (stateful workloads)
    xh: np.ndarray | None = None
    yh: np.ndarray | None = None

    @property
    def batches(self) -> Batches:
        n = self.x.shape[0]
        bs = self.workload.data.batch_size or n
        if n % bs:
            raise ParityError(
                f"--n {n} is not a multiple of workload {self.workload.name}'s batch size {bs}: "
                f"use --n {max(bs, n - n % bs)}"
            )
        return Batches(self.x, self.y, batch_slices(n, bs, self.steps), self.xh, self.yh)

    def batches_for(self, arm: Arm) -> Batches:
        """``batches`` as ``arm`` trains them: a JAX or f64 arm with ``Arm.shuffle_seed`` in Keras-JAX's
        ``fit(shuffle=True)`` order (``arms.minibatch.arm_rows``); a Keras arm's worker draws its own backend's."""
        b = self.batches
        if arm.shuffle_seed is None or kind_of(arm).in_worker:
            return b
        n = self.x.shape[0]
        return replace(b, slices=arm_rows(arm, n, self.workload.data.batch_size, self.steps))


def localize_pair(ctx: Context, a: Arm, b: Arm, cache: dict) -> PairResult:
    """The first parting of ``a`` and ``b`` along ``a``'s trajectory, and the growth that follows it."""
    wl = ctx.workload
    names = wl.model.names
    ref = wl.arm(wl.reference)
    t0 = time.perf_counter()
    if ("traj", a.name) not in cache or len(cache[("traj", a.name)].evals) < ctx.steps:
        cache[("traj", a.name)] = kind_of(a).trajectory(ctx, a)
    traj_a = cache[("traj", a.name)]
    evals_b = kind_of(b).at_weights(ctx, b, traj_a)
    # the floor at A's weights: the reference's computation in float32 and in float64
    ref_as32 = _as_float32(ref)
    ref32 = kind_of(ref_as32).at_weights(ctx, ref_as32, traj_a)
    ref64 = evals_b if b.name == ref.name else kind_of(ref).at_weights(ctx, ref, traj_a)
    result = PairResult(a.name, b.name)
    history: dict = {}
    for k in range(ctx.steps):
        checks = compare_step(
            k,
            traj_a.evals[k],
            evals_b[k],
            ref32[k],
            ref64[k],
            names,
            "reference" if b.name == ref.name else b.name,
            history,
            wl.model.head,
            heads.UNIT[heads.targets(wl.model.head, ctx.y.shape, ctx.y.dtype)],
        )
        result.checks += checks
        sides = {a.name: traj_a.evals[k].layers, b.name: evals_b[k].layers, "reference float32": ref32[k].layers}
        if b.name != ref.name:
            sides["reference float64"] = ref64[k].layers
        for t, why in shape_mismatches(sides).items():
            result.left_out.setdefault(t, why)
        if result.first is None:
            parted = [c for c in checks if c.parts]
            if parted:
                same = [c for c in parted if c.phase == parted[0].phase]
                result.first = _headline(same)
                result.parted_tensors = [c.tensor for c in same]
                result.later_phases = [f"{c.phase}: {c.tensor}" for c in parted if c.phase != parted[0].phase]
    finite = [c.ratio for c in result.checks if math.isfinite(c.ratio)]
    result.max_ratio = max(finite) if finite else math.inf
    if result.first is not None:
        if ("traj", b.name) not in cache:
            cache[("traj", b.name)] = kind_of(b).trajectory(ctx, b)
        traj_b = cache[("traj", b.name)]
        traj_b.evals.clear()  # memory: only its weights are kept for the growth (recomputed if B is an A later)
        dist = [_dist(wa, wb) for wa, wb in zip(traj_a.weights, traj_b.weights, strict=True)]
        result.growth = growth(dist, result.first.step + 1)
    # memory: A's per-step tensors (layer outputs, moments) are compared; the weights stay for the growth
    traj_a.evals.clear()
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
    """The reference arm's own forward pass, loss and optimizer, run in float32 by its kind's float32 twin (a
    JAX arm for the JAX arbiter, a torch arm for the torch one): the floor."""
    twin = kind_of(ref).float32_kind
    if twin is None:
        raise ParityError(f"the reference arm {ref.name} is not a float64 arbiter: it has no float32 twin")
    return replace(ref, name=ref.name + "-as-float32", kind=twin)


def _sample_struct(workload: Workload, n: int):
    """``n`` samples' shape and dtype as ``data.window`` gives them (a ``jax.ShapeDtypeStruct``: nothing loaded
    on a device): flat 28x28 MNIST rows, or the workload's own samples (floats as float32, integers as int32)."""
    import jax  # late: a framework: loads after the numerics flags

    if workload.data.dataset == "mnist":
        return jax.ShapeDtypeStruct((n, 784), np.float32)
    own = datasource.load(workload).x_train
    return jax.ShapeDtypeStruct((n, *own.shape[1:]), cast_data(own[:0], np.float32).dtype)  # ids: int32


def layer_sizes(workload: Workload, n: int) -> dict[str, int]:
    """Elements of each named layer output (``Model.jax_layers``) for ``n`` samples, from shapes alone."""
    if workload.model.jax_layers is None:
        return {}
    import jax  # late: a framework: loads after the numerics flags

    params = {k: jax.ShapeDtypeStruct(s, np.float32) for k, s in workload.model.params.items()}
    out = jax.eval_shape(resolve_ref(workload.model.jax_layers), params, _sample_struct(workload, n))
    return {k: int(np.prod(v.shape)) for k, v in out.items()}


def bytes_per_step(workload: Workload, n: int, arms: int) -> int:
    """Bytes held per step and evaluated arm (float64 for the arbiter, counted as 8 bytes for all: an upper
    bound): weights, gradient and update of every parameter, Adam's two moments (counted for every arm),
    the model state twice (before and after), every named layer's output, the logits, d loss/d logit and
    the held-out logits of the evaluation phase."""
    params = sum(int(np.prod(s)) for s in workload.model.params.values())
    state = sum(int(np.prod(s)) for s in workload.model.state.values())
    out = 10 if workload.model.head == "softmax" else 1
    if workload.data.dataset != "mnist":  # the workload's own model: its logits' elements per sample, from the
        # arbiter's forward pass (a JAX model's by shapes alone; a torch arbiter's on two samples at zero weights)
        ref = workload.arm(workload.reference)
        own = datasource.load(workload).x_train[:2]
        zeros = {k: np.zeros(s, np.float32) for k, s in workload.model.params.items()}
        out = int(np.prod(kind_of(ref).forward_shape(workload, ref, cast_data(own, np.float32), zeros)[1:]))
    layers = sum(layer_sizes(workload, n).values())
    holdout = workload.data.holdout * out if workload.model.state else 0
    return arms * 8 * (5 * params + 2 * state + layers + 2 * n * out + holdout)


def pairs_for(workload: Workload, names: tuple[str, ...]) -> list[tuple[Arm, Arm]]:
    """``--arms A,B``: that pair; otherwise every arm against the float64 arbiter."""
    if len(names) == 2:
        return [(workload.arm(names[0]), workload.arm(names[1]))]
    ref = workload.arm(workload.reference)
    arms = workload.resolve_arms(names) if names else workload.arms
    return [(a, ref) for a in arms if a.name != ref.name and not a.needs_gpu]


def runnable_pairs(workload: Workload, names: tuple[str, ...]) -> tuple[list[tuple[Arm, Arm]], list[str]]:
    """``pairs_for``'s pairs whose arms' modules are installed, and a line for each pair left out."""
    pairs, skipped = [], []
    for a, b in pairs_for(workload, names):
        missing = missing_requirements(a) + missing_requirements(b)
        if missing:
            skipped.append(f"{a.name} vs {b.name}: not installed: {', '.join(missing)}")
        else:
            pairs.append((a, b))
    return pairs, skipped


def context_for(workload: Workload, cfg) -> Context:
    """The one trajectory a ``RunConfig`` names (its first seed and window): the window's rows, the initial
    weights, and for a workload with ``Data.holdout`` the held-out window right after the training window."""
    ds = datasource.load(workload, cfg.data_path, cfg.data_sha256)
    labels = workload.data.labels
    x, y = data.window(ds, cfg.windows[0], cfg.n, cfg.normalize, labels=labels)
    init = copy_weights(
        resolve_ref(workload.model.init)(cfg.seeds[0], cfg.threefry_partitionable), workload.model.params
    )
    xh = yh = None
    if workload.data.holdout:
        xh, yh = data.window(ds, cfg.windows[0] + cfg.n, workload.data.holdout, cfg.normalize, labels=labels)
    return Context(
        workload,
        cfg.lr,
        cfg.steps,
        x,
        y,
        init,
        cfg.numerics,
        window=cfg.windows[0],
        n=cfg.n,
        normalize=cfg.normalize,
        data_path=cfg.data_path,
        data_sha256=cfg.data_sha256,
        xh=xh,
        yh=yh,
    )
