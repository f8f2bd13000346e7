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

from paritybench.workloads.base import Arm, Workload, resolve_ref

# Wrappers that say nothing about the update itself.
_PLUMBING = {"chain", "with_extra_args_support", "identity", "masked", "named_chain", "init_fn", "update_fn"}
# optax closure names -> the common row names Keras's get_config() uses.
_HYPER = {
    "eps": "epsilon",
    "epsilon": "epsilon",
    "b1": "beta_1",
    "beta_1": "beta_1",
    "b2": "beta_2",
    "beta_2": "beta_2",
    "momentum": "momentum",
    "decay": "momentum",
    "nesterov": "nesterov",
    "learning_rate": "learning_rate",
    "weight_decay": "weight_decay",
}
_ADAM_LIKE = {
    "scale_by_adam": "sqrt(v_hat) + eps, after bias correction",
    "scale_by_adamax": "max|g| + eps",
    "scale_by_rms": "sqrt(v) + eps, no bias correction",
}
# Rows that are informative but not a difference: every arm starts from the same transferred weights.


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
        elif callable(v) or isinstance(v, (tuple, list)):
            inner.append((var, v))
    found.append((name, hyper, masked))
    for var, v in inner:
        _walk(v, found, seen, masked or name == "masked" or var == "mask")


def optax_rows(optimizer, lr: float, params) -> dict[str, Any]:
    """Rows read from an optax optimizer instantiated at ``lr`` (see the module docstring)."""
    opt = resolve_ref(optimizer)(lr)
    found: list = []
    _walk(opt, found, set())
    transforms = [(n, h, m) for n, h, m in found if n not in _PLUMBING and not n.startswith("_")]
    named = [n for n, h, m in transforms if h or n in _ADAM_LIKE or n.startswith(("scale", "add_", "trace"))]
    rows: dict[str, Any] = {"optimizer": "optax " + (" -> ".join(named) or type(opt).__name__)}
    for n, h, _ in transforms:
        for var, v in h.items():
            row = _HYPER.get(var)
            if n == "scale" and var == "step_size":
                rows["optimizer.learning_rate"] = -v  # optax.sgd(lr) ends in scale(-lr)
            elif row and row != "weight_decay" and not (row == "momentum" and v is None):
                rows.setdefault(f"optimizer.{row}", v)
        if n in _ADAM_LIKE:
            rows["optimizer.epsilon placement"] = _ADAM_LIKE[n]
        elif any(_HYPER.get(v) == "epsilon" for v in h) and "optimizer.epsilon placement" not in rows:
            rows["optimizer.epsilon placement"] = f"custom transform {n}: see its declaration"
    state = opt.init(params)
    hp = getattr(state, "hyperparams", None)
    if isinstance(hp, dict):  # optax.inject_hyperparams: the values at step 0
        rows["optimizer"] += " (inject_hyperparams)"
        for var, v in hp.items():
            row = _HYPER.get(var)
            if row:
                rows[f"optimizer.{row}"] = float(v)
        if "eps" in hp:
            rows["optimizer.epsilon placement"] = "sqrt(v_hat) + eps, after bias correction (eps at step 1)"
    decay = [(i, h.get("weight_decay"), m) for i, (n, h, m) in enumerate(transforms) if n == "add_decayed_weights"]
    if decay:
        i, wd, m = decay[0]
        scalers = [
            j
            for j, (n, _, _) in enumerate(transforms)
            if n in _ADAM_LIKE or n == "keras_adam" or n.startswith("scale_by")
        ]
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
        "loss": f"{arm.loss_fn}",
        "loss input": "logits (the loss function takes the model's logits)",
    }
    rows["forward pass"] = str(arm.jax_apply or workload.model.jax_apply)
    if arm.optimizer is None:
        # w - lr * g written out: SGD without momentum, in Keras's vocabulary (its SGD defaults)
        rows.update(
            {
                "optimizer": "SGD",
                "optimizer.learning_rate": lr,
                "optimizer.momentum": 0.0,
                "optimizer.nesterov": False,
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
    rows["initial weights"] = f"transferred from {workload.model.init}"
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
