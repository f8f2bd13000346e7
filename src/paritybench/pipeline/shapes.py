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

from paritybench import watchdog, workloads
from paritybench.arms.registry import kind_of
from paritybench.arms.requirements import missing_requirements
from paritybench.errors import ParityError
from paritybench.experiment import data, flags, heads, weights
from paritybench.workloads import resolve_ref
from paritybench.workloads.base import Arm, Workload


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
    # the frameworks load outside the limit (their import is not the user's code); a kind that loads none here
    # runs its forward pass in a worker of its own, which checks its model when it builds it
    specs = [a for a in specs if kind_of(a).load_framework() is not None]
    checked: dict[object, tuple[int, ...]] = {}
    for arm in specs:
        kind = kind_of(arm)
        key = kind.forward_key(workload, arm)
        if key not in checked:
            what = f"workload {workload.name}: arm {arm.name}'s forward pass"
            try:
                with watchdog.limit(seconds, f"{what} (the shape check before training)"):
                    checked[key] = kind.forward_shape(workload, arm, x, init_for(arm.name))
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
        head = workload.model.head
        if (
            head != "linear"
            and (why := heads.problem(head, checked[key], tuple(y.shape), y.dtype, heads.top_id(np.asarray(y))))
            is not None
        ):
            raise ParityError(
                f"workload {workload.name}: arm {arm.name}'s forward pass returns shape {checked[key]} for the "
                f"input {tuple(x.shape)} and the targets have shape {tuple(y.shape)}: {why}"
            )
        if head == "linear" and checked[key] != tuple(y.shape):
            raise ParityError(
                f"workload {workload.name}: arm {arm.name}'s forward pass returns shape {checked[key]} for the "
                f"input {tuple(x.shape)}, but the labels have shape {tuple(y.shape)} ({workload.data.labels}, head "
                f"{workload.model.head}): make it return one logit row per sample, shaped like the labels"
            )


def precheck(cfg) -> None:
    """``check_forward`` for a command that writes before it trains (a sweep's checkpoint): the first seed's
    initial weights on the first window, every main-process arm that will run."""

    w = workloads.load(cfg.workload)
    specs = [a for a in w.resolve_arms(cfg.arms) if not kind_of(a).in_worker and not missing_requirements(a)]
    if not specs:
        return
    flags.apply(cfg.numerics)
    x, y = data.window(
        workloads.load_data(w, cfg.data_path, cfg.data_sha256),
        cfg.windows[0],
        cfg.n,
        cfg.normalize,
        labels=w.data.labels,
    )

    def init_for(name: str) -> dict:
        draw = resolve_ref(w.arm(name).init or w.model.init)
        return weights.copy_weights(draw(cfg.seeds[0], cfg.threefry_partitionable), w.model.params)

    check_forward(w, specs, x, y, init_for, cfg.step_timeout)


__all__ = ["check_forward", "precheck"]
