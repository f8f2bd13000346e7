"""A JAX or f64 arm's effective settings, read from its code (``paritybench conventions``; the table is
assembled by ``paritybench.pipeline.conventions``).

JAX and f64 arms: the workload's declared ``Arm.conventions`` (rows ``declared: <key>``) plus what the code
itself says: the loss function's reference, and the optax optimizer *instantiated* at the run's learning
rate and read back: the transforms it chains (from the update functions' qualified names), their numeric
hyperparameters (from the closures optax builds them with, e.g. ``scale_by_adam``'s ``eps``), and for
``optax.inject_hyperparams`` the hyperparameters in its initial state. Keras arms: read from the built model
and optimizer (``get_config()``) and the backend's numerics read-back, in a worker per backend
(``paritybench.arms.keras_inspect``). ``declaration_mismatches`` holds each declared number to the code.
"""

from __future__ import annotations

import numbers
import os
from typing import Any

import numpy as np

from paritybench.arms.keras_conventions import batch_order, initial_weights, ref_name
from paritybench.workloads.base import Arm, Workload, resolve_ref

# Wrappers that say nothing about the update itself.
_PLUMBING = {"chain", "with_extra_args_support", "identity", "masked", "named_chain", "init_fn", "update_fn"}
# Each optax transform's closure variables -> the rows they are, by what they are (one vocabulary with the Keras
# and torch rows): a decay rate is named by the transform that decays, never taken for a momentum.
# optax/transforms/_accumulation.py trace: decay is the momentum; optax/_src/transform.py scale_by_rms and
# scale_by_stddev: decay is the squared-gradient average's (Keras RMSprop's rho, torch RMSprop's alpha).
_ROWS = {
    "scale_by_adam": {"b1": "beta_1", "b2": "beta_2", "eps": "epsilon", "nesterov": "nesterov"},
    "scale_by_amsgrad": {"b1": "beta_1", "b2": "beta_2", "eps": "epsilon"},
    "scale_by_adamax": {"b1": "beta_1", "b2": "beta_2", "eps": "epsilon"},
    "scale_by_rms": {"decay": "rho", "eps": "epsilon"},
    "scale_by_stddev": {"decay": "rho", "eps": "epsilon"},
    "trace": {"decay": "momentum", "nesterov": "nesterov"},
}
# closure variables that say how, not how much: read into the epsilon placement (or dropped: optax's own defaults)
_HOW = {"eps_root", "eps_in_sqrt", "bias_correction", "initial_scale", "m", "mu_dtype", "accumulator_dtype"}
# optax's clipping transforms (optax/transforms/_clipping.py: clip :31, clip_by_block_rms :48,
# clip_by_global_norm :78, adaptive_grad_clip :312) -> the "gradient clipping" row, in Keras's terms
# (keras/src/optimizers/base_optimizer.py _clip_gradients :870-879: clipnorm per variable, global_clipnorm,
# clipvalue per element)
_CLIP = {
    "clip_by_global_norm": ("max_norm", "global norm {:g}"),
    "clip": ("max_delta", "per element value {:g}"),
    "clip_by_block_rms": ("threshold", "per variable rms {:g}"),
    "adaptive_grad_clip": ("clipping", "adaptive (unit-wise ratio {:g})"),
}
# Names that are one thing wherever they appear (never ``decay``: a momentum in trace, a rho in scale_by_rms):
# an optax.inject_hyperparams alias's arguments, and a user's own transform's closure variables
_COMMON = {
    "learning_rate": "learning_rate",
    "eps": "epsilon",
    "epsilon": "epsilon",
    "b1": "beta_1",
    "beta_1": "beta_1",
    "b2": "beta_2",
    "beta_2": "beta_2",
    "momentum": "momentum",
    "nesterov": "nesterov",
    "rho": "rho",
}


def epsilon_placement(name: str, h: dict) -> str | None:
    """Where a scaling transform adds its epsilon, read from its closure (optax 0.2.8, optax/_src/transform.py):
    scale_by_adam :300 and scale_by_amsgrad :380 ``m / (sqrt(v_hat + eps_root) + eps)`` after the bias
    correction; scale_by_rms :139-142 ``rsqrt(nu_hat + eps)`` when ``eps_in_sqrt`` (its default) else
    ``1 / (sqrt(nu_hat) + eps)``, nu_hat bias-corrected only with ``bias_correction``; scale_by_stddev
    :216-224 the same on ``nu - mu^2``; scale_by_adamax: ``max|g| + eps``."""
    if name in ("scale_by_adam", "scale_by_amsgrad"):
        eps, root = h.get("eps", 0.0), h.get("eps_root", 0.0)
        if root and not eps:
            return "sqrt(v_hat + eps), after bias correction"
        if root:
            return f"sqrt(v_hat + {root:g}) + eps, after bias correction"
        return "sqrt(v_hat) + eps, after bias correction"
    if name in ("scale_by_rms", "scale_by_stddev"):
        v = "v" if name == "scale_by_rms" else "v - m^2"
        corr = "after bias correction" if h.get("bias_correction") else "no bias correction"
        if h.get("bias_correction"):
            v = v.replace("v", "v_hat", 1)
        inside = h.get("eps_in_sqrt", True)
        return f"sqrt({v} + eps), {corr}" if inside else f"sqrt({v}) + eps, {corr}"
    if name == "scale_by_adamax":
        return "max|g| + eps"
    return None


def _walk(obj, found: list, seen: set, masked: bool = False) -> None:
    """(transform name, {hyperparameter: value}, masked) for each closure in an optax transformation."""
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if hasattr(obj, "update") and hasattr(obj, "init") and isinstance(obj, tuple):
        _walk(obj.update, found, seen, masked)
        return
    if isinstance(obj, (tuple, list)):
        for o in obj:
            _walk(o, found, seen, masked)
        return
    code = getattr(obj, "__code__", None)
    if code is None:
        return
    name = obj.__qualname__.split(".<locals>")[0].split(".")[-1]
    hyper: dict[str, Any] = {}
    inner = []
    for var, cell in zip(code.co_freevars, obj.__closure__ or (), strict=True):
        try:
            v = cell.cell_contents
        except ValueError:
            continue
        if isinstance(v, bool) or isinstance(v, numbers.Number):
            hyper[var] = v
        elif isinstance(v, np.ndarray | np.generic) and np.ndim(v) == 0:
            hyper[var] = v.item()
        elif callable(v) or isinstance(v, (tuple, list)):
            inner.append((var, v))
    found.append((name, hyper, masked))
    for var, v in inner:
        if var == "mask":
            masked = True  # optax.masked's predicate: which parameters, not a transform (not walked)
            continue
        _walk(v, found, seen, masked or name == "masked")


def optax_rows(optimizer, lr: float, params) -> dict[str, Any]:
    """Rows read from an optax optimizer instantiated at ``lr`` (see the module docstring): every transform of
    the chain (a user's own, its closure named ``_like_this``, included) and every numeric hyperparameter, each
    row named by what it is in the transform that holds it (``_ROWS``; an unknown transform's as
    ``optimizer.<transform>.<name>``)."""
    opt = resolve_ref(optimizer)(lr)
    found: list = []
    _walk(opt, found, set())
    transforms = [(n, h, m) for n, h, m in found if n not in _PLUMBING]
    named = [n for n, h, m in transforms if h or n.startswith(("scale", "add_", "trace", "clip"))]
    rows: dict[str, Any] = {"optimizer": "optax " + (" -> ".join(named) or type(opt).__name__)}
    clips = []
    for n, h, m in transforms:
        if n in _CLIP:
            var, fmt = _CLIP[n]
            if var in h:
                clips.append(fmt.format(h[var]) + (" (some parameters only)" if m else ""))
            continue
        if n == "scale" and "step_size" in h:
            rows["optimizer.learning_rate"] = -h["step_size"]  # optax.sgd(lr) ends in scale(-lr)
            continue
        if n in ("add_decayed_weights", "scale_by_learning_rate"):
            continue  # weight decay: below; the learning rate's sign (m = -1)
        known = _ROWS.get(n)
        for var, v in h.items():
            if known is not None and var in known:
                rows.setdefault(f"optimizer.{known[var]}", v)
            elif known is None and var in _COMMON:  # a transform of the user's own, in the common names
                rows.setdefault(f"optimizer.{_COMMON[var]}", v)
            elif known is None or var not in _HOW:
                rows.setdefault(f"optimizer.{n}.{var}", v)
        if n in ("scale_by_adam", "scale_by_amsgrad") and not h.get("eps") and h.get("eps_root"):
            rows["optimizer.epsilon"] = h["eps_root"]  # the only epsilon: inside the square root
        place = epsilon_placement(n, h)
        if place:
            rows.setdefault("optimizer.epsilon placement", place)
        elif known is None and any(_COMMON.get(v) == "epsilon" for v in h):
            rows.setdefault("optimizer.epsilon placement", f"custom transform {n}: see its declaration")
        if n == "scale_by_stddev":
            rows["optimizer.centered"] = True
        if n == "scale_by_amsgrad":
            rows["optimizer.amsgrad"] = True
    rows["gradient clipping"] = "; ".join(clips) if clips else "none"
    names = {n for n, _, _ in transforms}
    if "trace" not in names and "optimizer.learning_rate" in rows:
        if names <= {"scale", "add_decayed_weights", "scale_by_learning_rate", *_CLIP}:
            # optax.sgd without momentum (identity, then scale(-lr)): Keras's and torch's SGD at momentum 0
            rows.setdefault("optimizer.momentum", 0.0)
            rows.setdefault("optimizer.nesterov", False)
        elif names & {"scale_by_rms", "scale_by_stddev"}:
            rows.setdefault("optimizer.momentum", 0.0)  # optax.rmsprop(momentum=None): Keras's and torch's 0
    state = opt.init(params)
    hp = getattr(state, "hyperparams", None)
    if isinstance(hp, dict):  # optax.inject_hyperparams: the values at step 0
        rows["optimizer"] += " (inject_hyperparams)"
        for var, v in hp.items():
            if var in _HOW and not float(v):
                continue  # eps_root 0: optax's default, nothing added
            rows[f"optimizer.{_COMMON.get(var, var)}"] = float(v)
        if "eps" in hp:
            rows["optimizer.epsilon placement"] = "sqrt(v_hat) + eps, after bias correction (eps at step 1)"
    decay = [(i, h.get("weight_decay"), m) for i, (n, h, m) in enumerate(transforms) if n == "add_decayed_weights"]
    if decay:
        i, wd, m = decay[0]
        scalers = [j for j, (n, _, _) in enumerate(transforms) if n == "keras_adam" or n.startswith("scale_by")]
        place = (
            "decoupled (added after the optimizer's scaling)"
            if scalers and scalers[0] < i
            else "coupled (added to the gradient)"
        )
        if wd is not None and wd < 0:  # a decay written as -lr*lam straight into the update
            place = "decoupled (added to the update)"
        rows["weight decay"] = f"{abs(wd):g} x w, {place}" + (", masked (some parameters only)" if m else "")
    else:
        rows["weight decay"] = "none"
    return rows


def main_arm_rows(workload: Workload, arm: Arm, lr: float, dtype: type = np.float32) -> dict[str, Any]:
    """Rows for a JAX or f64 arm (``dtype``: its kind's): the code's, then the workload's declarations."""
    rows: dict[str, Any] = {
        "process": arm.process,
        "loss": ref_name(arm.loss_fn),
        "loss input": "logits (the loss function takes the model's logits)",
    }
    rows["forward pass"] = ref_name(arm.jax_apply or workload.model.jax_apply)
    if arm.optimizer is None:
        # w - lr * g written out: SGD without momentum, in Keras's vocabulary (its SGD defaults)
        rows.update(
            {
                "optimizer": "SGD",
                "optimizer.learning_rate": lr,
                "optimizer.momentum": 0.0,
                "optimizer.nesterov": False,
                "gradient clipping": "none",
                "weight decay": "none",
            }
        )
    else:
        import jax  # late: a framework: loads after the numerics flags

        params: dict[str, np.ndarray] = {k: np.zeros(s, dtype) for k, s in workload.model.params.items()}
        with jax.enable_x64(dtype == np.float64):
            rows.update(optax_rows(arm.optimizer, lr, params))
    rows["L2 in the loss"] = "none"  # the arm's loss_fn sees only (logits, labels)
    if "padding" in arm.conventions:  # not readable from a JAX function: the declaration, marked as such
        rows["padding"] = f"{arm.conventions['padding']} (declared)"
    rows["initial weights"] = initial_weights(workload, arm)
    rows.update(batch_order(workload, arm, "NumPy's RandomState, as Keras-JAX's fit"))
    rows["dtype"] = np.dtype(dtype).name
    return rows


def numerics_rows(readback: dict) -> dict[str, Any]:
    """The JAX main process's numerics, from ``frameworks.jax.read_back`` (the Keras worker's vocabulary)."""
    p = str(readback.get("jax_default_matmul_precision"))
    det = str(readback.get("xla_gpu_deterministic_ops")).lower() in ("true", "1")
    if p in ("highest", "float32", "Precision.HIGHEST"):
        precision = "full float32"
    elif readback.get("backend") == "gpu" and os.environ.get("NVIDIA_TF32_OVERRIDE") != "0":
        # measured on an H200 (results/baselines/tf32-matmul-gpu-nondeterministic.json): JAX's default
        # precision runs float32 dots in TF32 there; NVIDIA_TF32_OVERRIDE=0 turned it off (tf32-matmul-gpu.json)
        precision = f"{p} (backend default: TF32 on this GPU)"
    else:
        precision = f"{p} (backend default: float32 here)"
    return {
        "matmul precision": precision,
        "determinism": "on" if det else f"off [{readback.get('xla_gpu_deterministic_ops')}]",
        "oneDNN": "n/a",
    }
