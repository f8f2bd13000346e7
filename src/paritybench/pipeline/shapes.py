"""Before training: every main-process arm's forward pass gives one output per label.

A workload whose forward pass returns the wrong shape for its labels (ten logits for binary labels,
a flat (n,) vector, a kernel that does not fit the input) used to fail inside every arm's training
(``TypeError: mul got incompatible shapes``) and still write an artifact. ``check_forward`` finds
it first, with no arithmetic: JAX and float64 arms through ``jax.eval_shape`` (the forward pass
traced on shapes alone), torch arms by one forward pass on two samples. The Keras arms' model is
checked in their worker when it is built (``arms.keras_worker.check_model``). Each call runs under
the step time limit, so a forward pass that never returns ends here too.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from paritybench.errors import ParityError
from paritybench.workloads.base import Arm, Workload


def _jax_shape(workload: Workload, arm: Arm, x: np.ndarray) -> tuple[int, ...]:
    import jax
    import jax.numpy as jnp

    from paritybench.arms.minibatch import stateful_apply

    apply = stateful_apply(workload, arm)
    params = {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in workload.model.params.items()}
    state = {k: jax.ShapeDtypeStruct(s, jnp.float32) for k, s in workload.model.state.items()}
    xs = jax.ShapeDtypeStruct(x.shape, jnp.float32)
    out = jax.eval_shape(lambda p, s, xx: apply(p, xx, s, True)[0], params, state, xs)
    return tuple(out.shape)


def _torch_shape(workload: Workload, arm: Arm, x: np.ndarray, init: dict) -> tuple[int, ...]:
    import torch

    from paritybench.arms.torch_trainer import forward

    params = {k: torch.from_numpy(np.array(v, np.float32)) for k, v in init.items()}
    state = {k: torch.from_numpy(v) for k, v in workload.model.initial_state().items()}
    k = min(2, x.shape[0])  # two samples: the batch dimension is told apart from the others
    with torch.no_grad():
        out = forward(workload, arm)(params, torch.from_numpy(np.ascontiguousarray(x[:k])), state, True)[0]
    shape = tuple(out.shape)
    return (x.shape[0], *shape[1:]) if shape and shape[0] == k else shape


def check_forward(
    workload: Workload,
    specs: list[Arm],
    x: np.ndarray,
    y: np.ndarray,
    init_for: Callable[[str], dict],
    seconds: float | None,
) -> None:
    """Raise ParityError (one line: workload, arm, output shape, label shape) unless every main-process arm's
    forward pass maps ``x`` to ``y``'s shape. ``specs``: the arms that will train here (not skipped)."""
    import importlib

    from paritybench import watchdog

    # the frameworks load outside the limit: their import is not the user's code
    for kind, module in (("jax", "jax"), ("f64", "jax"), ("torch", "torch")):
        if any(a.kind == kind for a in specs):
            importlib.import_module(module)
    checked: dict[object, tuple[int, ...]] = {}
    for arm in specs:
        if arm.kind in ("jax", "f64"):
            key: object = ("jax", arm.jax_apply or workload.model.jax_apply)
        elif arm.kind == "torch":
            key = ("torch", arm.torch_apply or workload.model.torch_apply, arm.name if arm.init else "")
        else:
            continue
        if key not in checked:
            what = f"workload {workload.name}: arm {arm.name}'s forward pass"
            try:
                with watchdog.limit(seconds, f"{what} (the shape check before training)"):
                    if arm.kind == "torch":
                        checked[key] = _torch_shape(workload, arm, x, init_for(arm.name))
                    else:
                        checked[key] = _jax_shape(workload, arm, x)
            except ParityError:
                raise
            except watchdog.TimeLimit:
                raise ParityError(
                    f"{what} did not return within {seconds:g} s on the shape check before training "
                    "(--step-timeout): fix the workload, or give a longer --step-timeout"
                ) from None
            except Exception as exc:
                first = (str(exc).strip().splitlines() or [""])[0]
                raise ParityError(
                    f"{what} fails on the input {tuple(x.shape)} before training ({type(exc).__name__}: {first}); "
                    f"it must map the input to logits of the label shape {tuple(y.shape)}: fix the workload"
                ) from None
        if checked[key] != tuple(y.shape):
            raise ParityError(
                f"workload {workload.name}: arm {arm.name}'s forward pass returns shape {checked[key]} for the "
                f"input {tuple(x.shape)}, but the labels have shape {tuple(y.shape)} ({workload.data.labels}, head "
                f"{workload.model.head}): make it return one logit row per sample, shaped like the labels"
            )


def precheck(cfg) -> None:
    """``check_forward`` for a command that writes before it trains (a sweep's checkpoint): the first seed's
    initial weights on the first window, every main-process arm that will run."""
    from paritybench import workloads
    from paritybench.experiment import data, flags, weights
    from paritybench.pipeline.runner import missing_requirements
    from paritybench.workloads import resolve_ref

    w = workloads.load(cfg.workload)
    specs = [a for a in w.resolve_arms(cfg.arms) if a.kind != "keras" and not missing_requirements(a)]
    if not specs:
        return
    flags.apply(cfg.numerics)
    x, y = data.window(
        data.load_mnist(cfg.data_path, cfg.data_sha256), cfg.windows[0], cfg.n, cfg.normalize, labels=w.data.labels
    )

    def init_for(name: str) -> dict:
        draw = resolve_ref(w.arm(name).init or w.model.init)
        return weights.copy_weights(draw(cfg.seeds[0], cfg.threefry_partitionable), w.model.params)

    check_forward(w, specs, x, y, init_for, cfg.step_timeout)


__all__ = ["check_forward", "precheck"]
