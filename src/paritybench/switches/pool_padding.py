"""Average pooling's padding and divisor at the border: where the windows sit (TensorFlow's asymmetric "same",
(0, 1) on an even side, vs torch's symmetric ``padding=1``) and what each window's sum is divided by (the count
of real cells, TensorFlow's and Keras-JAX's, vs the whole window, torch's ``count_include_pad=True`` and flax's
``avg_pool``), switched to the other arm's. Demonstrated by pool-padding.

Read from the code, not the declarations: each arm's forward pass runs on a few training rows while its
framework's pooling call is recorded (``jax.lax.reduce_window`` with ``lax.add`` on a 4-D NHWC map for a JAX or
f64 arm; ``torch.nn.functional.avg_pool2d`` on NCHW for a torch arm; a call bound before, ``from jax.lax import
reduce_window``, is not seen and the switch is refused). A JAX arm divides by the count where it also sums a map
of ones with the same window (the counts); a torch call divides by the count where ``padding > 0`` and
``count_include_pad=False``. Each arm's pooling is then (window, strides, padding per spatial side, divisor).
The switched arm runs its own forward pass with that call answering the other arm's average (times the window
size where the arm divides by the window itself afterwards): only an arm that divides by the whole window (the
ports) is switched; one that divides by its own counts is refused."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches.base import Refusal, Switch, Target, patched, probe_forward
from paritybench.workloads.base import Arm, resolve_ref

COUNT, WINDOW = "count of real cells", "whole window"


@dataclass(frozen=True)
class Pool:
    window: tuple[int, int]
    strides: tuple[int, int]
    pads: tuple[tuple[int, int], tuple[int, int]]  # (low, high) on the height and the width
    divisor: str
    side: tuple[int, int]  # the map's height and width it was read on

    def text(self) -> str:
        return f"{self.window} window, stride {self.strides}, padded {self.pads}, divided by the {self.divisor}"


def _same_pads(side: int, k: int, s: int) -> tuple[int, int]:
    """TensorFlow's SAME: ceil(side / s) windows, the padding's odd cell at the high end."""
    out = -(-side // s)
    total = max((out - 1) * s + k - side, 0)
    return total // 2, total - total // 2


def _jax_read(arm: Arm, t: Target) -> Pool:
    import jax  # late: a framework: loads after the numerics flags

    real = jax.lax.reduce_window
    calls: list[tuple[Any, ...]] = []

    def recorder(operand, init_value, computation, window_dimensions, window_strides, padding, *a, **k):
        if computation is jax.lax.add and np.ndim(operand) == 4:
            ones = bool(np.all(np.asarray(operand) == 1))
            calls.append((ones, tuple(np.shape(operand)), tuple(window_dimensions), tuple(window_strides), padding))
        return real(operand, init_value, computation, window_dimensions, window_strides, padding, *a, **k)

    apply = resolve_ref(arm.jax_apply or t.workload.model.jax_apply)
    with patched(jax.lax, "reduce_window", recorder):
        probe_forward(apply, "jax", t)
    sums = [c for c in calls if not c[0]]
    if len(sums) != 1:
        raise Refusal(f"{arm.name}'s forward pass makes {len(sums)} summing lax.reduce_window calls, not one pool")
    _, shape, win, strides, padding = sums[0]
    side, k, s = shape[1:3], win[1:3], strides[1:3]
    pads: Any
    if padding == "SAME":
        pads = (_same_pads(side[0], k[0], s[0]), _same_pads(side[1], k[1], s[1]))
    elif padding == "VALID":
        pads = ((0, 0), (0, 0))
    else:
        pads = ((int(padding[1][0]), int(padding[1][1])), (int(padding[2][0]), int(padding[2][1])))
    divisor = COUNT if any(c[0] and c[2:] == sums[0][2:] for c in calls) else WINDOW
    return Pool(k, s, pads, divisor, side)


def _torch_read(arm: Arm, t: Target) -> Pool:
    import torch  # late: a framework: loads after the numerics flags
    import torch.nn.functional as F  # late: a framework: loads after the numerics flags

    real = F.avg_pool2d
    calls: list[tuple[Any, ...]] = []

    def recorder(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True, **kw):
        calls.append((tuple(input.shape), kernel_size, stride, padding, ceil_mode, count_include_pad, kw))
        return real(input, kernel_size, stride, padding, ceil_mode, count_include_pad, **kw)

    ref = arm.torch_apply or t.workload.model.torch_apply
    if ref is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")
    with torch.no_grad(), patched(F, "avg_pool2d", recorder):
        probe_forward(resolve_ref(ref), "torch", t)
    if len(calls) != 1:
        raise Refusal(f"{arm.name}'s forward pass makes {len(calls)} F.avg_pool2d calls, not one")
    shape, k, s, p, ceil, include, kw = calls[0]
    if ceil or kw:
        raise Refusal(f"{arm.name}'s avg_pool2d has ceil_mode or a divisor override: not read")
    pair = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    k2, s2, p2 = pair(k), pair(s if s is not None else k), pair(p)
    divisor = COUNT if (not include and any(p2)) else WINDOW
    return Pool(k2, s2, ((p2[0], p2[0]), (p2[1], p2[1])), divisor, tuple(shape[2:4]))


def read(arm: Arm, t: Target) -> Pool:
    kind = kind_of(arm).switch_kind()
    if kind in ("jax", "f64"):
        return _jax_read(arm, t)
    if kind == "torch":
        return _torch_read(arm, t)
    raise Refusal(f"{arm.name}'s pooling is a Keras layer in its worker: not a function to probe")


def _plan(arm: Arm, t: Target) -> tuple[Pool, Pool]:
    mine, theirs = read(arm, t), read(t.other, t)
    if (mine.window, mine.strides, mine.pads, mine.divisor) == (
        theirs.window,
        theirs.strides,
        theirs.pads,
        theirs.divisor,
    ):
        raise Refusal(f"nothing to change: both pool with a {mine.text()}")
    if mine.divisor != WINDOW:
        raise Refusal(f"{arm.name} divides by its own counts: only a pooling divided by the whole window is switched")
    if (mine.window, mine.strides, mine.side) != (theirs.window, theirs.strides, theirs.side):
        raise Refusal(f"the pools differ beyond padding and divisor ({mine.text()} vs {theirs.text()})")
    return mine, theirs


def _jax(arm: Arm, t: Target) -> Arm:
    import jax  # late: a framework: loads after the numerics flags

    mine, theirs = _plan(arm, t)
    own = resolve_ref(arm.jax_apply or t.workload.model.jax_apply)
    layers_ref = arm.jax_layers or t.workload.model.jax_layers
    size = float(np.prod(mine.window))
    pads = ((0, 0), *theirs.pads, (0, 0))
    win, strides = (1, *theirs.window, 1), (1, *theirs.strides, 1)

    def answering(fn):
        def run(*args, **kwargs):
            real = jax.lax.reduce_window

            def other_average(operand, init_value, computation, window_dimensions, window_strides, padding, *a, **k):
                if computation is not jax.lax.add or np.ndim(operand) != 4:
                    return real(operand, init_value, computation, window_dimensions, window_strides, padding, *a, **k)
                sums = real(operand, 0.0, jax.lax.add, win, strides, pads)
                if theirs.divisor == WINDOW:  # the same window (``_plan``): the arm's own division gives theirs
                    return sums
                ones = jax.numpy.ones((1, *operand.shape[1:3], 1), operand.dtype)
                return sums * size / real(ones, 0.0, jax.lax.add, win, strides, pads)

            with patched(jax.lax, "reduce_window", other_average):
                return fn(*args, **kwargs)

        return run

    switched = answering(own)
    switched.__qualname__ = f"pool[{theirs.text()}]"
    layers = None
    if layers_ref is not None:
        layers = answering(resolve_ref(layers_ref))
        layers.__qualname__ = f"pool_layers[{theirs.text()}]"
    return replace(arm, jax_apply=switched, jax_layers=layers)


def _torch(arm: Arm, t: Target) -> Arm:
    import torch.nn.functional as F  # late: a framework: loads after the numerics flags

    mine, theirs = _plan(arm, t)
    own_ref = arm.torch_apply or t.workload.model.torch_apply
    if own_ref is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")
    layers_ref = arm.torch_layers or t.workload.model.torch_layers
    (hl, hh), (wl, wh) = theirs.pads

    def answering(fn):
        def run(*args, **kwargs):
            real = F.avg_pool2d

            def other_average(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
                padded = F.pad(input, (wl, wh, hl, hh))
                sums = real(padded, theirs.window, theirs.strides, 0, False, True) * float(np.prod(theirs.window))
                if theirs.divisor == WINDOW:
                    return sums / float(np.prod(theirs.window))
                ones = F.pad(input.new_ones((1, 1, *input.shape[2:4])), (wl, wh, hl, hh))
                counts = real(ones, theirs.window, theirs.strides, 0, False, True) * float(np.prod(theirs.window))
                return sums / counts

            with patched(F, "avg_pool2d", other_average):
                return fn(*args, **kwargs)

        return run

    switched = answering(resolve_ref(own_ref))
    switched.__qualname__ = f"torch_pool[{theirs.text()}]"
    layers = None
    if layers_ref is not None:
        layers = answering(resolve_ref(layers_ref))
        layers.__qualname__ = f"torch_pool_layers[{theirs.text()}]"
    return replace(arm, torch_apply=switched, torch_layers=layers)


SWITCH = Switch(
    name="pool padding",
    family="layer arithmetic",
    description="average pooling's border: asymmetric 'same' vs symmetric padding, divided by real cells or the window",
    rows=("average pooling", "pooling", "padding", "count_include_pad"),
    demonstrated_by="pool-padding",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "Keras's AveragePooling2D pads 'valid' or 'same' and divides a 'same' window by its unpadded "
        "elements (keras/src/backend/jax/nn.py average_pool: window_counts): no count_include_pad or explicit "
        "padding setting"
    },
)
