"""The loss reduction: a loss summed over the batch against one averaged over it (torch
``reduction="sum"`` vs ``"mean"``, Keras's ``sum`` vs ``sum_over_batch_size``): the same per-sample losses,
a gradient ``n`` times larger. Read from the code, not the declarations: each side's reduction is probed on a
few training rows, its loss over them against the mean of its loss on each row alone (equal for a mean, ``m``
times it for a sum over ``m`` rows). Demonstrated by loss-reduction (a catalogue workload added beside this
switch: the name is its own).

The switched loss is divided (or multiplied) by what the other arm's mean divides by. That is the batch size
where the other arm's loss on one row equals this arm's (a mean of per-row sums), and otherwise every element of
the unreduced loss, as torch's ``reduction="mean"`` divides (``torch/nn/modules/loss.py``): the targets' elements,
less a softmax head's class axis where the targets are probabilities (one cross-entropy per row of ``C``), where the
other arm's loss on one row is this arm's divided by that count (an elementwise loss over ``(n, d)`` or class ids
over ``(n, T)``). Before, a sum was always divided by the batch size alone, which left a ``torch.nn.MSELoss(
reduction="sum")`` over ``(n, d)`` outputs ``d`` times the other arm's ``"mean"``.

A Keras arm's loss is rebuilt with the other arm's reduction (``keras_edits``: ``"sum"``, or Keras's default
``"sum_over_batch_size"`` for a mean; ``keras/src/losses/loss.py`` ``reduce_values``: the sum of the per-sample
losses, divided by their count for every reduction but ``"sum"``); a loss given as a function is wrapped as
``compile`` wraps it (``keras.losses.LossFunctionWrapper``, ``keras/src/trainers/compile_utils.py`` ``get_loss``)
with that reduction. Its own reduction is read from its ``loss`` row (a function's is compile's
``sum_over_batch_size``)."""

from __future__ import annotations

import re
from dataclasses import replace

import numpy as np

from paritybench.experiment import heads
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, KerasEdit, resolve_ref

M = 8  # rows probed
ROWS, ELEMENTS = "rows", "elements"  # what a mean divides by: the batch size, or every element of the loss


def _probe(t: Target) -> tuple[np.ndarray, np.ndarray]:
    """Logits and targets for ``M`` rows: logits of the targets' shape, or, for integer class ids ((n,) or
    (n, T)), with a class axis as wide as the ids need (a loss over ids takes logits of any width)."""
    rng = np.random.default_rng(0)
    y = np.asarray(t.y[:M])
    if heads.integer(y.dtype):
        width = max(2, int(y.max()) + 1)
        return rng.normal(0.0, 1.0, (M, *y.shape[1:], width)).astype(np.float32), y.astype(np.int64)
    return rng.normal(0.0, 1.0, (M, *y.shape[1:])).astype(np.float32), y.astype(np.float32)


def _reduction(whole: float, alone: list[float]) -> str:
    mean = float(np.mean(alone))
    if np.isclose(whole, mean, rtol=1e-4):
        return "mean"
    if np.isclose(whole, M * mean, rtol=1e-4):
        return "sum"
    raise Refusal(f"the loss over {M} rows ({whole:.6g}) is neither the mean nor the sum of the rows' ({mean:.6g})")


def elements(y, head: str) -> int:
    """How many losses torch's ``"mean"`` averages over targets ``y``: every target element, less the class axis
    of a softmax head's probability targets (one cross-entropy per row of classes)."""
    n = int(np.prod(tuple(y.shape)))
    floating = getattr(y, "is_floating_point", None)  # a torch tensor's; a NumPy or JAX array has a dtype kind
    probabilities = floating() if floating is not None else not heads.integer(y.dtype)
    if head == "softmax" and probabilities and len(y.shape) > 1:
        n //= int(y.shape[-1])
    return n


def jax_rows(loss_ref, t: Target) -> tuple[float, list[float]]:
    """The loss over the probe's ``M`` rows, and over each row alone."""
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    f = resolve_ref(loss_ref)
    z, y = _probe(t)
    whole = float(jnp.mean(f(jnp.asarray(z), jnp.asarray(y))))
    return whole, [float(jnp.mean(f(jnp.asarray(z[i : i + 1]), jnp.asarray(y[i : i + 1])))) for i in range(M)]


def torch_rows(loss_ref, t: Target) -> tuple[float, list[float]]:
    import torch  # late: a framework: loads after the numerics flags

    f = resolve_ref(loss_ref)
    z, y = (torch.from_numpy(a) for a in _probe(t))
    return float(f(z, y)), [float(f(z[i : i + 1], y[i : i + 1])) for i in range(M)]


def jax_reduction(loss_ref, t: Target) -> str:
    return _reduction(*jax_rows(loss_ref, t))


def torch_reduction(loss_ref, t: Target) -> str:
    return _reduction(*torch_rows(loss_ref, t))


def _other_rows(t: Target) -> tuple[float, list[float]]:
    o = t.other
    if t.other_kind() in ("jax", "f64") and o.loss_fn is not None:
        return jax_rows(o.loss_fn, t)
    if t.other_kind() == "torch" and o.torch_loss is not None:
        return torch_rows(o.torch_loss, t)
    raise Refusal(f"{o.name}'s loss is not a function this process can probe")


def _divisor(rows_mine: list[float], rows_theirs: list[float]) -> str:
    """What the mean divides by (``ROWS`` or ``ELEMENTS``): the batch size where the two losses agree on one row,
    else every element (torch's ``"mean"``)."""
    return ROWS if np.allclose(rows_mine, rows_theirs, rtol=1e-4) else ELEMENTS


def _plan(rows_mine: tuple[float, list[float]], t: Target) -> tuple[str, str, str]:
    mine, (whole_o, alone_o) = _reduction(*rows_mine), _other_rows(t)
    theirs = _reduction(whole_o, alone_o)
    if mine == theirs:
        raise Refusal(f"nothing to change: both losses take the {mine} over the batch")
    return mine, theirs, _divisor(rows_mine[1], alone_o)


def _count(z, y, by: str, head: str) -> int:
    return int(z.shape[0]) if by == ROWS else elements(y, head)


def _jax(arm: Arm, t: Target) -> Arm:
    if arm.loss_fn is None:
        raise Refusal(f"{arm.name} declares no loss_fn")
    mine, theirs, by = _plan(jax_rows(arm.loss_fn, t), t)
    own, head = resolve_ref(arm.loss_fn), t.workload.model.head

    def switched(z, y):
        n = _count(z, y, by, head)
        return own(z, y) / n if mine == "sum" else own(z, y) * n

    switched.__qualname__ = f"reduction[{mine}->{theirs} by {by}]"
    return replace(arm, loss_fn=switched)


def _torch(arm: Arm, t: Target) -> Arm:
    if arm.torch_loss is None:
        raise Refusal(f"{arm.name} declares no torch_loss")
    mine, theirs, by = _plan(torch_rows(arm.torch_loss, t), t)
    own, head = resolve_ref(arm.torch_loss), t.workload.model.head

    def switched(z, y):
        n = _count(z, y, by, head)
        return own(z, y) / n if mine == "sum" else own(z, y) * n

    switched.__qualname__ = f"torch_reduction[{mine}->{theirs} by {by}]"
    return replace(arm, torch_loss=switched)


# Keras's reductions (keras/src/losses/loss.py reduce_values): "sum" sums the per-sample losses, the others divide
# that sum by their count (mean_with_sample_weight by the weights' sum, where there are sample weights: the
# weighted mean divisor switch's convention)
KERAS_MEAN = ("sum_over_batch_size", "mean", "mean_with_sample_weight")
_KERAS_REDUCTION = re.compile(r"'reduction': (?:'([a-z_]+)'|None)")


def keras_reduction(loss_row) -> str | None:
    """A Keras arm's reduction from its ``loss`` row: ``sum_over_batch_size`` for a loss function (compile wraps it
    with that default), the config's ``reduction`` for a ``keras.losses.Loss``; None where the row is missing."""
    if loss_row is None:
        return None
    m = _KERAS_REDUCTION.search(str(loss_row))
    if m is None:
        return "sum_over_batch_size"
    return m.group(1) or "none"


def _keras(arm: Arm, t: Target) -> Arm:
    theirs = _reduction(*_other_rows(t))
    value = "sum" if theirs == "sum" else "sum_over_batch_size"
    mine = keras_reduction(t.row("loss"))
    if mine == "none":
        raise Refusal(f"{arm.name}'s loss has no reduction (None): fit gets one loss per sample")
    if mine is not None and ("sum" if mine == "sum" else "mean") == theirs:
        raise Refusal(f"nothing to change: both losses take the {theirs} over the batch ({arm.name}: {mine!r})")
    return replace(arm, keras_edits=(*arm.keras_edits, KerasEdit("loss", None, "reduction", value)))


SWITCH = Switch(
    name="loss reduction",
    family="loss",
    description="the loss summed over the batch vs averaged over it",
    rows=("loss.reduction", "reduction"),
    demonstrated_by="loss-reduction",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch, "keras": _keras},
)
