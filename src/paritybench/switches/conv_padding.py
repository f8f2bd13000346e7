"""A convolution's padding: where the kernel's windows sit on the border (TensorFlow's "same", asymmetric (0, 1)
on an even side at stride 2, vs torch's symmetric ``padding=1``), switched to the other arm's explicit padding.
Demonstrated by same-padding.

Read from the code, not the declarations: each arm's forward pass runs on a few training rows while its
framework's convolution call is recorded (``jax.lax.conv_general_dilated`` for a JAX or f64 arm, its "SAME" /
"VALID" read as explicit pairs by ``jax.lax.padtype_to_pads``; ``torch.nn.functional.conv2d`` for a torch arm,
``F.pad`` of the input before it not seen). Each arm's padding is (low, high) per spatial axis; the switched arm
runs its own forward pass with its one convolution call padded the other arm's way (torch: the input padded by
``F.pad``, then ``padding=0``). A call bound before (``from jax.lax import conv_general_dilated``) is not seen:
the switch is then refused."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches.base import Refusal, Switch, Target, patched, probe_forward
from paritybench.workloads.base import Arm, resolve_ref

Pads = tuple[tuple[int, int], ...]


def _jax_read(arm: Arm, t: Target) -> tuple[Pads, tuple[int, ...]]:
    import jax  # late: a framework: loads after the numerics flags

    real = jax.lax.conv_general_dilated
    calls: list[tuple[Pads, tuple[int, ...]]] = []

    def recorder(lhs, rhs, window_strides, padding, *a, **k):
        dn = k.get("dimension_numbers", a[2] if len(a) > 2 else None)
        spec = jax.lax.conv_dimension_numbers(np.shape(lhs), np.shape(rhs), dn)
        side = tuple(int(np.shape(lhs)[i]) for i in spec.lhs_spec[2:])
        if isinstance(padding, str):
            kern = tuple(int(np.shape(rhs)[i]) for i in spec.rhs_spec[2:])
            pads = tuple((int(lo), int(hi)) for lo, hi in jax.lax.padtype_to_pads(side, kern, window_strides, padding))
        else:
            pads = tuple((int(lo), int(hi)) for lo, hi in padding)
        calls.append((pads, side))
        return real(lhs, rhs, window_strides, padding, *a, **k)

    apply = resolve_ref(arm.jax_apply or t.workload.model.jax_apply)
    with patched(jax.lax, "conv_general_dilated", recorder):
        probe_forward(apply, "jax", t)
    if len(calls) != 1:
        raise Refusal(f"{arm.name}'s forward pass makes {len(calls)} lax.conv_general_dilated calls, not one")
    return calls[0]


def _torch_read(arm: Arm, t: Target) -> tuple[Pads, tuple[int, ...]]:
    import torch  # late: a framework: loads after the numerics flags
    import torch.nn.functional as F  # late: a framework: loads after the numerics flags

    real = F.conv2d
    calls: list[tuple[Pads, tuple[int, ...]]] = []

    def recorder(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
        side = tuple(int(v) for v in input.shape[2:4])
        if isinstance(padding, str):
            if padding != "valid":
                raise Refusal(f"{arm.name}'s F.conv2d pads {padding!r}: not read")
            pads: Pads = ((0, 0), (0, 0))
        else:
            p = (padding, padding) if isinstance(padding, int) else tuple(padding)
            pads = ((int(p[0]), int(p[0])), (int(p[1]), int(p[1])))
        calls.append((pads, side))
        return real(input, weight, bias, stride, padding, dilation, groups)

    ref = arm.torch_apply or t.workload.model.torch_apply
    if ref is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")
    with torch.no_grad(), patched(F, "conv2d", recorder):
        probe_forward(resolve_ref(ref), "torch", t)
    if len(calls) != 1:
        raise Refusal(f"{arm.name}'s forward pass makes {len(calls)} F.conv2d calls, not one")
    return calls[0]


def read(arm: Arm, t: Target) -> tuple[Pads, tuple[int, ...]]:
    """``arm``'s one convolution's padding, (low, high) per spatial axis, and the input's spatial size."""
    kind = kind_of(arm).switch_kind()
    if kind in ("jax", "f64"):
        return _jax_read(arm, t)
    if kind == "torch":
        return _torch_read(arm, t)
    raise Refusal(f"{arm.name}'s convolution is a Keras layer in its worker: not a function to probe")


def _plan(arm: Arm, t: Target) -> Pads:
    (mine, side), (theirs, their_side) = read(arm, t), read(t.other, t)
    if side != their_side:
        raise Refusal(f"the convolutions' inputs differ ({side} vs {their_side}): not a padding")
    if mine == theirs:
        raise Refusal(f"nothing to change: both pad {mine}")
    return theirs


def _jax(arm: Arm, t: Target) -> Arm:
    import jax  # late: a framework: loads after the numerics flags

    theirs = _plan(arm, t)

    def answering(fn):
        def run(*args, **kwargs):
            real = jax.lax.conv_general_dilated

            def padded(lhs, rhs, window_strides, padding, *a, **k):
                return real(lhs, rhs, window_strides, list(theirs), *a, **k)

            with patched(jax.lax, "conv_general_dilated", padded):
                return fn(*args, **kwargs)

        run.__qualname__ = f"conv_padding[{theirs}]"
        return run

    layers_ref = arm.jax_layers or t.workload.model.jax_layers
    return replace(
        arm,
        jax_apply=answering(resolve_ref(arm.jax_apply or t.workload.model.jax_apply)),
        jax_layers=None if layers_ref is None else answering(resolve_ref(layers_ref)),
    )


def _torch(arm: Arm, t: Target) -> Arm:
    import torch.nn.functional as F  # late: a framework: loads after the numerics flags

    theirs = _plan(arm, t)
    (hl, hh), (wl, wh) = theirs
    own_ref = arm.torch_apply or t.workload.model.torch_apply
    if own_ref is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")

    def answering(fn):
        def run(*args, **kwargs):
            real = F.conv2d

            def padded(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
                return real(F.pad(input, (wl, wh, hl, hh)), weight, bias, stride, 0, dilation, groups)

            with patched(F, "conv2d", padded):
                return fn(*args, **kwargs)

        run.__qualname__ = f"torch_conv_padding[{theirs}]"
        return run

    layers_ref: Any = arm.torch_layers or t.workload.model.torch_layers
    return replace(
        arm,
        torch_apply=answering(resolve_ref(own_ref)),
        torch_layers=None if layers_ref is None else answering(resolve_ref(layers_ref)),
    )


SWITCH = Switch(
    name="conv padding",
    family="layer arithmetic",
    description="a convolution's border padding: TensorFlow's asymmetric 'same' vs torch's symmetric padding=1",
    rows=("padding", "convolution padding", "conv padding"),
    demonstrated_by="same-padding",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "Keras's Conv2D pads 'valid' (none) or 'same' (TensorFlow's, the odd pixel after): an explicit "
        "padding such as torch's symmetric one is neither, and between 'valid' and 'same' the output's size "
        "changes with the padding, so the weights after it no longer fit"
    },
)
