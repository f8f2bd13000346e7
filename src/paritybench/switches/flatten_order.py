"""Flatten order: a Dense after a convolution's Flatten reads the features in another order than the other arm's
((c, h, w), torch's ``nn.Flatten`` on NCHW, vs (h, w, c), Keras's on NHWC), so row i of the shared kernel meets
another feature. The switch permutes the Dense kernel's rows inside the arm's forward pass (the fix
``adapters.layouts.flatten_to_channels_first`` writes; the declared kernel stays the trained variable).
Demonstrated by flatten-order.

Read from the code, not the declarations: both arms' named layers (``jax_layers`` / ``torch_layers``) run on a
few training rows from the shared initial weights; for each 2-D layer output ``(n, F)`` that follows a 4-D one
``(n, a, b, c)`` with ``a b c = F``, the column orders of every transpose of that grid are tried: the one that
takes the arm's columns to the other's (``mine[:, Q] ~ theirs`` up to float32 rounding) is the flatten order,
and the kernel read by it is the one parameter of shape ``(F, out)``."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, resolve_ref

RTOL, ATOL = 1e-4, 1e-5


def _layers(arm: Arm, t: Target) -> dict[str, np.ndarray]:
    kind = kind_of(arm).switch_kind()
    if kind in ("jax", "f64"):
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags

        ref = arm.jax_layers if arm.jax_apply is not None else t.workload.model.jax_layers
        if ref is None:
            raise Refusal(f"{arm.name} has no named layers (jax_layers) to read its flatten order from")
        out = resolve_ref(ref)({k: jnp.asarray(v) for k, v in t.init.items()}, jnp.asarray(t.x))
        return {k: np.asarray(v, np.float64) for k, v in out.items()}
    if kind == "torch":
        import torch  # late: a framework: loads after the numerics flags

        ref = arm.torch_layers if arm.torch_apply is not None else t.workload.model.torch_layers
        if ref is None:
            raise Refusal(f"{arm.name} has no named layers (torch_layers) to read its flatten order from")
        params = {k: torch.tensor(np.asarray(v, np.float32)) for k, v in t.init.items()}
        with torch.no_grad():
            out = resolve_ref(ref)(params, torch.tensor(np.asarray(t.x, np.float32)))
        return {k: v.detach().numpy().astype(np.float64) for k, v in out.items()}
    raise Refusal(f"{arm.name}'s layers are built by the workload's keras_build in its worker: not a function to probe")


def _orders(grid: tuple[int, int, int]) -> list[np.ndarray]:
    """Every reordering of a flattened (a, b, c) grid's columns that a transpose of its axes makes, and their
    inverses, the identity left out."""
    idx = np.arange(int(np.prod(grid))).reshape(grid)
    out: list[np.ndarray] = []
    for axes in itertools.permutations(range(3)):
        q = idx.transpose(axes).ravel()
        for cand in (q, np.argsort(q)):
            if not np.array_equal(cand, np.arange(q.size)) and not any(np.array_equal(cand, o) for o in out):
                out.append(cand)
    return out


def read(arm: Arm, t: Target) -> tuple[str, str, np.ndarray]:
    """(layer, kernel parameter, Q): ``arm``'s column j of ``layer`` is the other arm's column ``Q[j]``."""
    mine, theirs = _layers(arm, t), _layers(t.other, t)
    names = [k for k in mine if k in theirs]
    for i, name in enumerate(names):
        a, b = mine[name], theirs[name]
        if a.ndim != 2 or a.shape != b.shape or np.allclose(a, b, rtol=RTOL, atol=ATOL):
            continue
        grids = [mine[p].shape[1:] for p in names[:i] if mine[p].ndim == 4 and np.prod(mine[p].shape[1:]) == a.shape[1]]
        for q in (q for g in grids for q in _orders(tuple(g))):
            if np.allclose(a, b[:, q], rtol=RTOL, atol=ATOL):
                kernels = [k for k, s in t.workload.model.params.items() if len(s) == 2 and s[0] == a.shape[1]]
                if len(kernels) != 1:
                    raise Refusal(f"{name} is read by {len(kernels)} parameters of {a.shape[1]} rows, not one kernel")
                return name, kernels[0], q
    raise Refusal(f"no flattened layer of {arm.name} is a reordering of {t.other.name}'s: the flatten orders agree")


def _jax(arm: Arm, t: Target) -> Arm:
    layer, kernel, q = read(arm, t)
    own = resolve_ref(arm.jax_apply or t.workload.model.jax_apply)
    layers_ref = arm.jax_layers or t.workload.model.jax_layers
    if layers_ref is None:  # read() ran the layers: unreachable unless they vanished in between
        raise Refusal(f"{arm.name} has no named layers (jax_layers)")
    own_layers = resolve_ref(layers_ref)
    rows, back = q.copy(), np.argsort(q)

    def switched(params, x, *args, **kw):
        return own({**params, kernel: params[kernel][rows]}, x, *args, **kw)

    def switched_layers(params, x):
        out = dict(own_layers({**params, kernel: params[kernel][rows]}, x))
        out[layer] = out[layer][:, back]  # in the order of the declared kernel rows it meets
        return out

    switched.__qualname__ = f"flatten_order[{kernel} rows reordered]"
    switched_layers.__qualname__ = f"flatten_order_layers[{layer}]"
    return replace(arm, jax_apply=switched, jax_layers=switched_layers)


def _torch(arm: Arm, t: Target) -> Arm:
    layer, kernel, q = read(arm, t)
    own_ref = arm.torch_apply or t.workload.model.torch_apply
    layers_ref = arm.torch_layers or t.workload.model.torch_layers
    if own_ref is None or layers_ref is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply / torch_layers")
    own, own_layers = resolve_ref(own_ref), resolve_ref(layers_ref)
    rows, back = q.tolist(), np.argsort(q).tolist()

    def switched(params, x, *args, **kw):
        return own({**params, kernel: params[kernel][rows]}, x, *args, **kw)

    def switched_layers(params, x):
        out = dict(own_layers({**params, kernel: params[kernel][rows]}, x))
        out[layer] = out[layer][:, back]
        return out

    switched.__qualname__ = f"torch_flatten_order[{kernel} rows reordered]"
    switched_layers.__qualname__ = f"torch_flatten_order_layers[{layer}]"
    return replace(arm, torch_apply=switched, torch_layers=switched_layers)


SWITCH = Switch(
    name="flatten order",
    family="layer arithmetic",
    description="the Dense after a Flatten reading (c, h, w) vs (h, w, c): its kernel rows reordered",
    rows=("flatten", "flatten order", "layout"),
    demonstrated_by="flatten-order",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "Keras's Flatten reads channels-last features in (h, w, c) order; its data_format='channels_first' "
        "moves axis 1 last (keras/src/layers/reshaping/flatten.py), (w, c, h) on them, never torch's (c, h, w): the "
        "Dense kernel's rows would have to be permuted, a weight change, not a config setting"
    },
)
