"""A torch arm's batch normalisations, read and switched through ``torch.nn.functional.batch_norm``: the
calls its forward pass makes (``F.batch_norm`` directly, or ``nn.BatchNorm1d/2d/3d``, whose ``forward`` calls
it with the module's momentum, or ``1/num_batches_tracked`` where that momentum is None, and its eps) are
recorded while it runs in training mode on a few training rows, and a switched arm runs its forward pass with
one keyword of every call set to another value. A ``batch_norm`` the forward pass's module or closure bound
before (``from torch.nn.functional import batch_norm``) is replaced there too (``base.patched``).

torch's ``momentum`` is the share of the NEW batch statistic taken (``torch/nn/functional.py`` ->
``torch.batch_norm``: ``running = (1 - momentum) * running + momentum * batch``); Keras's is the share of the
OLD one kept. ``keep(momentum) = 1 - momentum`` converts."""

from __future__ import annotations

import inspect
from dataclasses import replace
from typing import Any

import numpy as np

from paritybench.switches.base import Refusal, Target, patched
from paritybench.workloads.base import Arm, resolve_ref


def _functional():
    import torch.nn.functional as F  # late: a framework: loads after the numerics flags

    return F


def torch_apply(arm: Arm, t: Target):
    ref = arm.torch_apply or t.workload.model.torch_apply
    if ref is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")
    return resolve_ref(ref)


def record(arm: Arm, t: Target) -> list[dict[str, Any]]:
    """Every ``F.batch_norm`` call ``arm``'s forward pass makes in training mode on 8 training rows, as
    ``{"training", "momentum", "eps"}`` (the values it was called with, defaults filled in)."""
    import torch  # late: a framework: loads after the numerics flags

    F = _functional()
    own = F.batch_norm
    signature = inspect.signature(own)
    seen: list[dict[str, Any]] = []

    def recorder(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        a = bound.arguments
        seen.append({"training": bool(a["training"]), "momentum": a["momentum"], "eps": float(a["eps"])})
        return own(*args, **kwargs)

    apply = torch_apply(arm, t)
    params = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in t.init.items()}
    x = torch.from_numpy(np.asarray(t.x[:8], np.float32))
    state = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in t.state.items()}
    with torch.no_grad(), patched(F, "batch_norm", recorder, apply):
        if t.state:
            apply(params, x, state, True)
        else:  # a stateless forward pass: (params, x)
            apply(params, x)
    return seen


def one(calls: list[dict[str, Any]], key: str, arm: Arm) -> float:
    """The one value of ``key`` over ``arm``'s training-mode calls; a ``Refusal`` where there is none, or several."""
    values = {c[key] for c in calls if c["training"]}
    if not values:
        raise Refusal(f"{arm.name}'s forward pass calls no torch batch_norm in training mode (or bound it before)")
    if None in values:
        raise Refusal(f"{arm.name} calls batch_norm with momentum None (a cumulative average): no keep factor")
    if len(values) > 1:
        raise Refusal(f"{arm.name} calls batch_norm with several {key}s ({sorted(values)}): no one setting")
    return float(values.pop())


def keep(momentum: float) -> float:
    """torch's momentum (share of the new batch taken) as Keras's (share of the old average kept)."""
    return float(f"{1.0 - momentum:.6g}")


def with_setting(arm: Arm, t: Target, key: str, value: float, label: str) -> Arm:
    """``arm`` whose forward pass calls ``F.batch_norm`` with ``key=value`` every time."""
    F = _functional()
    own_apply = torch_apply(arm, t)
    signature = inspect.signature(F.batch_norm)

    def switched(*args, **kwargs):
        own = F.batch_norm

        def fixed(*a, **k):
            bound = signature.bind(*a, **k)
            bound.apply_defaults()
            bound.arguments[key] = value
            return own(*bound.args, **bound.kwargs)

        with patched(F, "batch_norm", fixed, own_apply):
            return own_apply(*args, **kwargs)

    switched.__qualname__ = f"batch_norm[{label}]"
    return replace(arm, torch_apply=switched, torch_layers=None)
