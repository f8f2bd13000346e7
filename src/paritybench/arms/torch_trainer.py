"""Native torch arms: the workload's model trained by torch autograd and ``torch.optim``, in the harness's process.

A torch arm is the workload's functional forward pass in torch (``Arm.torch_apply`` or ``Model.torch_apply``:
``f(params: {name: tensor}, x) -> logits``, the parameters in the declared (in, out) layout), the arm's mean
loss (``Arm.torch_loss``) and its optimizer (``Arm.torch_optimizer``, built over the parameter tensors;
default ``torch.optim.SGD(lr)``, which is ``w - lr * g``). The parameters are leaf float32 tensors copied from
the shared initial weights, so a torch arm starts where every other arm starts. It runs on CUDA when torch
sees a GPU, else on the CPU. torch and JAX share a process without trouble; only Keras needs one process per
backend, so no worker is involved.

Per step it records what the JAX trainer records (``paritybench.arms.base.step_curves``): at the
weights after k updates, the mean loss, the correct count, whether the weights are finite and the head
diagnostics (``heads.measure`` on NumPy copies of the arm's own logits and its own per-sample d loss/d logit,
``n * d(mean loss)/d logits`` by torch autograd); the norm of each applied gradient; and, when the spec keeps
the trajectory, the weights and the gradient of every step. A workload with minibatches or state
(``paritybench.arms.minibatch``'s protocol) trains step k on batch ``k mod (n / batch_size)``; its stateful
forward pass is ``f(params, x, state=..., training=...) -> (logits, new_state)``.
"""

from __future__ import annotations

import inspect
import math
import time
from types import ModuleType
from typing import Any

import numpy as np

from paritybench.arms.base import ArmResult, Evaluation, TrainSpec, nonfinite_steps
from paritybench.arms.keras_conventions import batch_order, initial_weights, ref_name
from paritybench.arms.kind import Kind
from paritybench.arms.minibatch import batch_slices
from paritybench.arms.requirements import missing_requirements
from paritybench.errors import ParityError
from paritybench.experiment import heads
from paritybench.experiment.weights import Weights, copy_weights
from paritybench.frameworks.torch import read_back, sync
from paritybench.workloads.base import Arm, Workload, resolve_ref

_CONFIGURED: dict[str, Any] = {}


def configure(numerics) -> dict:
    """Apply the numerics options to torch (``frameworks.torch.read_back``: deterministic algorithms, TF32 off,
    threads) once per process and return what took effect; recorded as ``environment.frameworks.torch``."""
    key = repr(numerics)
    if key not in _CONFIGURED:
        _CONFIGURED[key] = {**read_back(numerics), "device": str(device())}
    return _CONFIGURED[key]


def device():
    """CUDA when torch sees a GPU, else the CPU."""
    import torch  # late: a framework: loads after the numerics flags

    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def forward(workload: Workload, arm: Arm):
    """The arm's forward pass as ``(params, x, state, training) -> (logits, new_state)``."""
    apply = resolve_ref(arm.torch_apply or workload.model.torch_apply)
    if workload.model.state:
        return lambda p, x, state, training: apply(p, x, state=state, training=training)
    return lambda p, x, state, training: (apply(p, x), state)


def layers_fn(workload: Workload, arm: Arm):
    """The arm's named-layer forward pass ``(params, x) -> {name: tensor}`` in forward order (a torch function
    returns its dict as built, so its order is the function's own): its own ``Arm.torch_layers``, else the
    model's where the arm uses the model's forward pass; None shows its logits only (as ``jax_trainer.layers_ref``)."""
    if arm.torch_layers is not None:
        return resolve_ref(arm.torch_layers)
    if workload.model.torch_layers is not None and arm.torch_apply is None:
        return resolve_ref(workload.model.torch_layers)
    return None


def make_optimizer(arm: Arm, params: dict, lr: float):
    """The arm's ``torch.optim`` optimizer over ``params`` (name -> leaf tensor); plain SGD by default."""
    import torch  # late: a framework: loads after the numerics flags

    if arm.torch_optimizer is None:
        return torch.optim.SGD(list(params.values()), lr=lr)
    return resolve_ref(arm.torch_optimizer)(params, lr)


def grad_hook(arm: Arm):
    """The arm's gradient hook (``Arm.torch_grad_hook``), or None."""
    return None if arm.torch_grad_hook is None else resolve_ref(arm.torch_grad_hook)


def apply_step(opt, params: dict, grads: dict, hook) -> None:
    """One optimizer step on ``grads``: each parameter's ``.grad`` set, then the arm's gradient hook (between
    ``backward()`` and ``step()``, as a training loop calls ``clip_grad_norm_``), then ``opt.step()``. The
    ``.grad`` tensors are copies, so ``grads`` stays the raw autograd gradient: a hook changes ``.grad`` in
    place, and so does torch's own foreach SGD with Nesterov momentum (``torch/optim/sgd.py``
    ``torch._foreach_add_(device_grads, bufs, alpha=momentum)``; measured: a gradient of ones reads 1.9 after
    ``SGD(momentum=0.9, nesterov=True, foreach=True).step()``; foreach is torch's default on CUDA)."""
    for k, p in params.items():
        p.grad = grads[k].clone()
    if hook is not None:
        hook(params)
    opt.step()


def leaf_params(weights: Weights, names, dev, dtype=np.float32) -> dict:
    """Leaf tensors (float32, or ``dtype``: the float64 arbiter's) holding copies of ``weights`` (never views of
    the caller's arrays)."""
    import torch  # late: a framework: loads after the numerics flags

    return {k: torch.tensor(np.array(weights[k], dtype, copy=True), device=dev, requires_grad=True) for k in names}


def as_tensor(a: np.ndarray, dev, dtype=np.float32):
    """A window's samples or targets on ``dev``: float32 (or ``dtype``: the float64 arbiter's), but integers
    (class ids for a sparse loss, token ids for an embedding) as int64, the index dtype
    ``torch.nn.functional.cross_entropy`` and ``embedding`` take."""
    import torch  # late: a framework: loads after the numerics flags

    a = np.asarray(a)
    return torch.tensor(np.asarray(a, np.int64 if heads.integer(a.dtype) else dtype), device=dev)


def to_numpy(t) -> np.ndarray:
    return t.detach().cpu().numpy()


class _Model:
    """One arm's forward pass and loss at given parameters: everything a step needs, and the diagnostics."""

    def __init__(self, workload: Workload, arm: Arm):
        self.apply = forward(workload, arm)
        self.loss_fn = resolve_ref(arm.torch_loss)
        self.head = workload.model.head

    def loss_and_grads(self, params: dict, state, x, y, training: bool = True):
        """(mean loss, logits, n * d loss/d logits, {name: gradient}, new state), one forward and one backward."""
        import torch  # late: a framework: loads after the numerics flags

        z, new_state = self.apply(params, x, state, training)
        loss = self.loss_fn(z, y)
        names = list(params)
        g = torch.autograd.grad(loss, [params[k] for k in names], allow_unused=True, retain_graph=True)
        grads = {k: (gk if gk is not None else torch.zeros_like(params[k])) for k, gk in zip(names, g, strict=True)}
        # d loss/d logits with the mean's backward fed n: n / n = 1 exactly, so each sample's own gradient, as
        # JAX's grad of the summed per-sample loss gives (a gradient computed as g / n, then times n, would
        # flush the tiniest ones to zero and count them as dead)
        rows = float(heads.loss_rows(tuple(z.shape)))  # n, or n * T for a sequence's logits (n, T, k)
        (dz,) = torch.autograd.grad(loss, [z], grad_outputs=torch.tensor(rows, dtype=loss.dtype, device=z.device))
        return loss, z, dz, grads, new_state

    def measure(self, params: dict, state, x, y) -> tuple[dict, dict]:
        """The recorded values at ``params`` on the whole window (training mode), and the gradients there."""
        loss, z, dz, grads, _ = self.loss_and_grads(params, state, x, y)
        zn, dzn, yn = to_numpy(z), to_numpy(dz), to_numpy(y)
        rec = {k: float(v) for k, v in heads.measure(np, self.head, zn, dzn, yn).items()}
        rec["loss"] = float(loss.detach())
        rec["finite"] = all(bool(np.all(np.isfinite(to_numpy(p)))) for p in params.values())
        return rec, grads


def _grad_norm(grads: dict) -> float:
    total = sum(float(np.sum(to_numpy(g).astype(np.float64) ** 2)) for g in grads.values())
    return math.sqrt(total) if math.isfinite(total) else float("nan")


def train_one(
    workload: Workload,
    arm: Arm,
    init: Weights,
    x: np.ndarray,
    y: np.ndarray,
    spec: TrainSpec,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    dtype=np.float32,
) -> ArmResult:
    """One copy: ``spec.steps`` optimizer steps from ``init`` on the window ``(x, y)``, the parameters and data in
    float32 (or ``dtype``: float64 for the arbiter, ``arms.torch_f64``)."""
    import torch  # late: a framework: loads after the numerics flags

    dev = device()
    names = workload.model.names
    model = _Model(workload, arm)
    params = leaf_params(copy_weights(init, workload.model.params), names, dev, dtype)
    opt = make_optimizer(arm, params, spec.lr)
    hook = grad_hook(arm)
    xt, yt = as_tensor(x, dev, dtype), as_tensor(y, dev, dtype)
    n = x.shape[0]
    bs = spec.batch_size or n
    if n % bs:
        raise ParityError(
            f"--n {n} is not a multiple of workload {workload.name}'s batch size {bs}: use --n {max(bs, n - n % bs)}"
        )
    full_batch = bs == n and not workload.model.state
    state = {k: torch.tensor(v.astype(dtype), device=dev) for k, v in workload.model.initial_state().items()}
    has_eval = eval_data is not None and eval_data[0].shape[0] > 0
    if has_eval:
        xh, yh = (as_tensor(a, dev, dtype) for a in eval_data)
    recs: list[dict] = []
    grad_norms: list[float] = []
    traj: list[Weights] = []
    grads_kept: list[Weights] = []
    states: dict[str, list] = {k: [] for k in state}

    def record(state) -> dict:
        rec, grads = model.measure(params, state, xt, yt)
        if has_eval:
            with torch.no_grad():
                ze, _ = model.apply(params, xh, state, False)
                rec["eval_loss"] = float(model.loss_fn(ze, yh))
                ze, yhn = to_numpy(ze), to_numpy(yh)
                rec["eval_correct"] = int(
                    np.sum(heads.correct_mask(np, model.head, heads.probabilities(np, model.head, ze), yhn))
                )
        for k, v in state.items():
            states[k].append([float(u) for u in np.ravel(to_numpy(v))])
        recs.append(rec)
        return grads

    t = time.perf_counter()
    for rows in batch_slices(n, bs, spec.steps):
        grads = record(state)
        if not full_batch:  # the step's own batch (and, for a stateful model, its moving statistics)
            _, _, _, grads, state = model.loss_and_grads(params, state, xt[rows], yt[rows])
            state = {k: v.detach() for k, v in state.items()}
        grad_norms.append(_grad_norm(grads))
        if spec.keep_trajectory:
            traj.append({k: to_numpy(p).copy() for k, p in params.items()})
            grads_kept.append({k: to_numpy(g).copy() for k, g in grads.items()})
        apply_step(opt, params, grads, hook)
    record(state)

    sync(None)
    train_seconds = time.perf_counter() - t
    # the artifact keeps float32 final weights for every arm (as ``arms.f64``); a float64 trajectory stays float64
    final = {k: to_numpy(p).astype(np.float32) for k, p in params.items()}
    loss = [r["loss"] for r in recs]
    correct = [int(r["correct"]) for r in recs]
    curves: dict[str, list] = {
        "loss": loss,
        "correct": correct,
        "accuracy": [c / heads.scored(model.head, y.shape, y.dtype) for c in correct],
        "grad_norm": grad_norms,
        "nonfinite": nonfinite_steps([r["finite"] for r in recs], loss),
        **{k: [r[k] for r in recs] for k in heads.PER_STEP},
    }
    if has_eval:
        m = heads.scored(model.head, eval_data[1].shape, eval_data[1].dtype)
        curves["eval_loss"] = [r["eval_loss"] for r in recs]
        curves["eval_accuracy"] = [r["eval_correct"] / m for r in recs]
    for k, vs in states.items():
        curves[f"state_mean_abs/{k}"] = [float(np.mean(np.abs(v))) for v in vs]
    info = {
        "grad_norm_source": "autodiff",
        "train_seconds": train_seconds,
        "compile_seconds": 0.0,
        "device": str(dev),
        "optimizer": type(opt).__name__,
    }
    if not full_batch:
        info["batch_size"] = bs
    result = ArmResult(curves=curves, final_weights=final, info=info, state=states or None)
    if spec.keep_trajectory:
        result.trajectory = [*traj, {k: to_numpy(p).copy() for k, p in params.items()}]
        result.grads = grads_kept
    return result


def train_many(
    workload: Workload,
    arm: Arm,
    inits: list[Weights],
    x: np.ndarray,
    y: np.ndarray,
    spec: TrainSpec,
    eval_data: tuple[np.ndarray, np.ndarray] | None = None,
    dtype=np.float32,
) -> list[ArmResult]:
    """Every initial weight set on one window, one after the other (eager torch: nothing to batch-compile)."""
    return [train_one(workload, arm, w, x, y, spec, eval_data, dtype) for w in inits]


def evaluate_correct(
    workload: Workload, arm: Arm, weights: Weights, x: np.ndarray, y: np.ndarray, dtype=np.float32
) -> int:
    """The arm's torch forward pass at ``weights`` on ``(x, y)`` (training mode for a stateful model)."""
    import torch  # late: a framework: loads after the numerics flags

    dev = device()
    apply = forward(workload, arm)
    state = {k: torch.tensor(v.astype(dtype), device=dev) for k, v in workload.model.initial_state().items()}
    with torch.no_grad():
        p = {k: torch.tensor(np.asarray(v, dtype), device=dev) for k, v in weights.items()}
        z, _ = apply(p, as_tensor(x, dev, dtype), state, True)
    return heads.count_correct(np, workload.model.head, to_numpy(z), np.asarray(y))


# Hyperparameter names in torch.optim's param_groups -> the conventions table's rows (Keras's vocabulary; RMSprop's
# alpha is the squared-gradient average's decay, Keras's rho: torch/optim/rmsprop.py square_avg.mul_(alpha)).
_HYPER = {
    "lr": "learning_rate",
    "eps": "epsilon",
    "momentum": "momentum",
    "nesterov": "nesterov",
    "alpha": "rho",
}
# entries shown only where set (the other frameworks have no such row): (entry, default)
_ONLY_SET = {"dampening": 0, "amsgrad": False, "centered": False, "maximize": False}
# how torch computes the step, not what: shown in the "implementation" row, never compared across frameworks
_IMPLEMENTATION = ("foreach", "fused", "capturable", "differentiable")
# Where each optimizer class puts weight_decay (torch/optim/*.py: ``grad = grad.add(param, alpha=weight_decay)``
# for SGD/Adam/RMSprop; AdamW, and Adam with decoupled_weight_decay=True (adam.py :124, :326), multiply the
# parameter by ``1 - lr * weight_decay`` before the step).
_DECOUPLED = {"AdamW"}
# torch/optim/adam.py :543-545 denom = (sqrt(v) / sqrt(bias_correction2)) + eps; rmsprop.py :326-331
# sqrt(square_avg) (centered: minus grad_avg^2) + eps
_EPS_PLACEMENT = {
    "Adam": "sqrt(v_hat) + eps, after bias correction",
    "AdamW": "sqrt(v_hat) + eps, after bias correction",
    "NAdam": "sqrt(v_hat) + eps, after bias correction",
}


def loss_settings(loss) -> dict:
    """A torch loss's settings: an ``nn.Module``'s public attributes (reduction, beta, delta, label_smoothing,
    ignore_index, ...), a function's keyword defaults."""
    if hasattr(loss, "training") and hasattr(loss, "_parameters"):  # an nn.Module
        return {
            k: v
            for k, v in vars(loss).items()
            if not k.startswith("_") and k != "training" and isinstance(v, (int, float, str, bool, type(None)))
        }
    try:
        return {
            k: p.default
            for k, p in inspect.signature(loss).parameters.items()
            if p.default is not inspect.Parameter.empty and isinstance(p.default, (int, float, str, bool))
        }
    except (TypeError, ValueError):
        return {}


def hook_clipping(hook, params: dict, name: str) -> str:
    """What a gradient hook does, in the "gradient clipping" row's vocabulary, measured on two probes: parameter
    i's gradient filled with ``1e3 * (i + 1)`` (every element, so a norm clip and a value clip give different
    answers), then the same times 10, the hook called on each. A clip leaves both probes at the same gradient
    (a constant scale or a sign flip does not; within 1e-3 relative: torch's float32 norm of 12,544 equal
    elements is 1.4e-5 off, measured). Then: the same factor in (0, 1) on every parameter is a global
    norm clip (the norm after it is the row's value); every parameter at one norm, a per variable norm clip;
    every element at one magnitude, a per element value clip (each within 1e-4 relative). Probes left as
    they were read as none (at least up to the probes' size); anything else is said to be another change.
    Values to 3 significant figures: a norm clip lands near, not on, its bound (``torch/nn/utils/clip_grad.py``
    :164 scales by max_norm / (norm + 1e-6): 0.00100001 for clip_grad_norm_(..., 1e-3), measured)."""
    import torch  # late: a framework: loads after the numerics flags

    def run(scale: float) -> tuple[dict, dict]:
        probe = {k: torch.full_like(p, scale * (i + 1)) for i, (k, p) in enumerate(params.items())}
        leaves = {k: torch.zeros_like(p, requires_grad=True) for k, p in params.items()}
        for k, p in leaves.items():
            p.grad = probe[k].clone()
        hook(leaves)
        return {k: v.to(torch.float64) for k, v in probe.items()}, {
            k: p.grad.detach().to(torch.float64) for k, p in leaves.items()
        }

    inp, out = run(1e3)
    inp10, out10 = run(1e4)
    if all(torch.equal(out[k], inp[k]) and torch.equal(out10[k], inp10[k]) for k in out):
        return "none"  # at least up to the probes' size
    other = f"another change to the gradient (the hook {name}: not a norm or value clip on a probe)"
    if not all(torch.allclose(out[k], out10[k], rtol=1e-3, atol=0) for k in out):
        return other  # a clip's result does not depend on how far over its bound the gradient was
    factors = [float(out[k].flatten()[0] / inp[k].flatten()[0]) for k in out if out[k].numel()]
    scaled = all(torch.allclose(out[k], inp[k] * f, rtol=1e-6) for k, f in zip(out, factors, strict=True))
    if not scaled or not all(0 < f < 1 for f in factors):
        scaled = False
    if scaled and max(factors) - min(factors) <= 1e-4 * max(factors):
        total = math.sqrt(sum(float(torch.sum(v * v)) for v in out.values()))
        return f"global norm {total:.3g}"
    norms = [float(torch.linalg.vector_norm(v)) for v in out.values() if v.numel()]
    if scaled and max(norms) - min(norms) <= 1e-4 * max(norms):
        return f"per variable norm {norms[0]:.3g}"
    mags = torch.cat([v.flatten() for v in out.values()])
    if mags.numel() and float(mags.min()) > 0 and float(mags.max() - mags.min()) <= 1e-4 * float(mags.max()):
        return f"per element value {float(mags[0]):.3g}"
    return other


def conventions_rows(
    workload: Workload, arm: Arm, lr: float, readback: dict | None = None, dtype=np.float32
) -> dict[str, Any]:
    """A torch arm's effective settings, read from the optimizer it builds (every ``param_groups`` entry) at
    ``lr`` over zero tensors of the declared shapes (in ``dtype``: float64 for the arbiter), its loss (module
    attributes or function defaults) and torch's numerics read-back; nothing here is declared."""
    import torch  # late: a framework: loads after the numerics flags

    tdtype = getattr(torch, np.dtype(dtype).name)
    params = {k: torch.zeros(s, dtype=tdtype, requires_grad=True) for k, s in workload.model.params.items()}
    opt = make_optimizer(arm, params, lr)
    cls = type(opt).__name__
    loss = ref_name(arm.torch_loss)
    if arm.torch_loss is not None:
        settings = loss_settings(resolve_ref(arm.torch_loss))
        loss += f" {settings}" if settings else ""
    rows: dict[str, Any] = {
        "process": arm.process,
        "loss": loss,
        "loss input": "logits (the loss function takes the model's logits)",
        "forward pass": ref_name(arm.torch_apply or workload.model.torch_apply),
        "optimizer": f"torch.optim.{cls}",
    }
    by_id = {id(t): k for k, t in params.items()}
    groups = opt.param_groups
    g0 = groups[0]
    impl = []
    for key, v in g0.items():
        if key in ("params", "weight_decay", "decoupled_weight_decay", "initial_lr"):
            continue
        if key in _IMPLEMENTATION:
            impl.append(f"{key}={v}")
        elif key == "betas":
            rows["optimizer.beta_1"], rows["optimizer.beta_2"] = (float(b) for b in v)
        elif key in _ONLY_SET:
            if v != _ONLY_SET[key]:
                rows[f"optimizer.{key}"] = v if isinstance(v, bool) else float(v)
        else:
            row = _HYPER.get(key, key)
            rows[f"optimizer.{row}"] = v if isinstance(v, bool) or not isinstance(v, (int, float)) else float(v)
    if impl:
        rows["implementation: torch.optim"] = ", ".join(impl)
    if "betas" in g0:
        # torch's Adam and AdamW have no Nesterov momentum (that is torch.optim.NAdam): said in optax's rows too
        rows.setdefault("optimizer.nesterov", cls == "NAdam")
    if cls in _EPS_PLACEMENT:
        rows["optimizer.epsilon placement"] = _EPS_PLACEMENT[cls]
    elif cls == "RMSprop":
        v = "v - m^2" if g0.get("centered") else "v"
        rows["optimizer.epsilon placement"] = f"sqrt({v}) + eps, no bias correction"
    # torch.optim clips nothing itself: a clip is torch.nn.utils.clip_grad_* in the training loop, the arm's hook
    rows["gradient clipping"] = (
        "none" if arm.torch_grad_hook is None else hook_clipping(grad_hook(arm), params, ref_name(arm.torch_grad_hook))
    )
    if arm.torch_grad_hook is not None:
        # the clipping row is the hook measured on a probe (``hook_clipping``), in the other arms' vocabulary
        rows["gradient hook"] = f"{ref_name(arm.torch_grad_hook)}, between backward() and step()"
    decays = {float(g.get("weight_decay", 0.0)) for g in groups}
    decayed = [by_id[id(p)] for g in groups if g.get("weight_decay", 0.0) for p in g["params"]]
    if decays == {0.0}:
        rows["weight decay"] = "none"
    else:
        wd = max(decays)
        decoupled = cls in _DECOUPLED or bool(g0.get("decoupled_weight_decay"))
        place = "decoupled (added to the update)" if decoupled else "coupled (added to the gradient)"
        masked = len(decayed) < len(params) or len(decays - {0.0}) > 1
        rows["weight decay"] = f"{wd:g} x w, {place}" + (", masked (some parameters only)" if masked else "")
    rows["L2 in the loss"] = "none"
    rows["initial weights"] = initial_weights(workload, arm)
    rows.update(batch_order(workload, arm, "-"))  # a torch arm trains in window order (shuffle_seed refused)
    rows["dtype"] = np.dtype(dtype).name
    if readback and np.dtype(dtype) == np.float64:
        rows["matmul precision"] = "float64"  # TF32 and float32 precision settings apply to float32 matmuls only
        rows["determinism"] = "on" if readback.get("deterministic_algorithms") else "off"
        rows["oneDNN"] = "n/a"
    elif readback:
        rows["matmul precision"] = (
            "full float32"
            if readback.get("float32_matmul_precision") == "highest" and not readback.get("cuda_matmul_allow_tf32")
            else str(readback.get("float32_matmul_precision"))
        )
        rows["determinism"] = "on" if readback.get("deterministic_algorithms") else "off"
        rows["oneDNN"] = "n/a"
    return rows


class TorchEvaluator:
    """A torch arm evaluated at given weights (``paritybench localize``'s teacher forcing): its named layers'
    outputs (``layers_fn``: ``Arm.torch_layers`` or ``Model.torch_layers``, in forward order), its logits, mean loss,
    per-sample d loss/d logit, gradients, its optimizer's change to every parameter and, for torch's Adam, its
    moments (``exp_avg`` / ``exp_avg_sq``: the uncorrected m and v, the quantities optax keeps as mu / nu).
    The parameter tensors persist across calls, so the optimizer keeps its own state, fed its own gradients.
    Step k sees the rows ``data.slices[k]`` (the whole window for a full-batch workload). A stateful model
    (``Model.state``) steps from the given state: its new state is the arm's own forward pass's (``F.batch_norm``
    updating copies of the running statistics by torch's rule), and the evaluation phase is its inference-mode
    logits on the held-out window (``data.xh``) at the step's weights with that new state."""

    def __init__(self, workload: Workload, arm: Arm, lr: float, data, numerics=None, dtype=np.float32):

        if numerics is not None:
            configure(numerics)
        self.dev = device()
        self.dtype = dtype  # float32; float64 for the arbiter (arms.torch_f64)
        self.model = _Model(workload, arm)
        self.layers = layers_fn(workload, arm)
        zeros = {k: np.zeros(s, dtype) for k, s in workload.model.params.items()}
        self.params = leaf_params(zeros, workload.model.names, self.dev, dtype)
        self.opt = make_optimizer(arm, self.params, lr)
        self.hook = grad_hook(arm)
        self.x, self.y = (as_tensor(a, self.dev, dtype) for a in (data.x, data.y))
        self.slices = data.slices
        self.stateful = bool(workload.model.state)
        xh = getattr(data, "xh", None)
        self.xh = as_tensor(xh, self.dev, dtype) if self.stateful and xh is not None else None

    def _moments(self) -> dict[str, np.ndarray]:
        mu, nu = {}, {}
        for k, p in self.params.items():
            st = self.opt.state.get(p, {})
            if "exp_avg" in st and "exp_avg_sq" in st:
                mu[f"adam/mu/{k}"] = to_numpy(st["exp_avg"]).copy()
                nu[f"adam/nu/{k}"] = to_numpy(st["exp_avg_sq"]).copy()
        return {**mu, **nu}

    def at(self, w: Weights, state=None, k: int = 0):
        import torch  # late: a framework: loads after the numerics flags

        with torch.no_grad():
            for name, p in self.params.items():
                p.copy_(torch.as_tensor(np.asarray(w[name], self.dtype)))
        rows = self.slices[k] if self.slices else slice(None)
        st = (
            {name: torch.tensor(np.asarray(v, self.dtype), device=self.dev) for name, v in (state or {}).items()}
            if self.stateful
            else {}
        )
        loss, z, dz, grads, new_state = self.model.loss_and_grads(self.params, st, self.x[rows], self.y[rows])
        new = {name: to_numpy(v).copy() for name, v in new_state.items()} if self.stateful else {}
        layers = {}
        if self.layers is not None:  # the forward phase's named layers at w_k, on the step's rows
            with torch.no_grad():
                layers = {name: to_numpy(v).copy() for name, v in self.layers(self.params, self.x[rows]).items()}
        evaluation = {}
        if self.xh is not None:  # inference mode at w_k with the new state, before the optimizer moves w
            with torch.no_grad():
                zh, _ = self.model.apply(self.params, self.xh, new_state, False)
            evaluation["holdout logits"] = to_numpy(zh).copy()
        before = {name: to_numpy(p).copy() for name, p in self.params.items()}
        # backward: the raw autograd gradient; the gradient hook's effect shows in the update
        apply_step(self.opt, self.params, grads, self.hook)
        update = {name: to_numpy(p) - before[name] for name, p in self.params.items()}
        return Evaluation(
            to_numpy(z),
            float(loss.detach()),
            to_numpy(dz),
            {name: to_numpy(g) for name, g in grads.items()},
            update,
            layers,
            state={**self._moments(), **new},
            evaluation=evaluation,
            new_state=new,
        )


class TorchKind(Kind):
    """Native torch arms, trained in the harness's own process."""

    name = "torch"

    def load_framework(self) -> ModuleType:
        import torch  # late: a framework: the shape check loads it after the numerics flags, before its time limit

        return torch

    def forward_key(self, workload: Workload, arm: Arm) -> object:
        return ("torch", arm.torch_apply or workload.model.torch_apply, arm.name if arm.init else "")

    def forward_shape(self, workload: Workload, arm: Arm, x: np.ndarray, init: dict) -> tuple[int, ...]:
        """One forward pass on two samples (two: the batch dimension is told apart from the others)."""
        import torch  # late: a framework: loads after the numerics flags

        params = {k: torch.from_numpy(np.array(v, np.float32)) for k, v in init.items()}
        state = {k: torch.from_numpy(v) for k, v in workload.model.initial_state().items()}
        k = min(2, x.shape[0])
        with torch.no_grad():
            out = forward(workload, arm)(params, torch.from_numpy(np.ascontiguousarray(x[:k])), state, True)[0]
        shape = tuple(out.shape)
        return (x.shape[0], *shape[1:]) if shape and shape[0] == k else shape

    process_framework = "torch"

    def train_many(self, workload, arm, inits, x, y, spec, eval_data=None) -> list[ArmResult]:
        return train_many(workload, arm, inits, x, y, spec, eval_data)

    def evaluator(self, ctx, arm: Arm) -> TorchEvaluator:
        return TorchEvaluator(ctx.workload, arm, ctx.lr, ctx.batches_for(arm), ctx.numerics)

    def conventions(self, workload, arm, lr, numerics, keras_rows=None) -> dict | None:
        if missing_requirements(arm):
            return None  # skipped: torch is not installed, nothing to read
        return conventions_rows(workload, arm, lr, configure(numerics))

    def process_numerics(self, numerics) -> dict:
        return configure(numerics)
