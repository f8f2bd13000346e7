"""The loss reduction: a loss summed over the batch against one averaged over it (torch
``reduction="sum"`` vs ``"mean"``, Keras's ``sum`` vs ``sum_over_batch_size``): the same per-sample losses,
a gradient ``n`` times larger. Read from the code, not the declarations: each side's reduction is probed on a
few training rows, its loss over them against the mean of its loss on each row alone (equal for a mean, ``m``
times it for a sum over ``m`` rows). The switched loss is divided (or multiplied) by the batch size.
Demonstrated by loss-reduction (a catalogue workload added beside this switch: the name is its own)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.experiment import heads
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, resolve_ref

M = 8  # rows probed


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


def jax_reduction(loss_ref, t: Target) -> str:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    f = resolve_ref(loss_ref)
    z, y = _probe(t)
    whole = float(jnp.mean(f(jnp.asarray(z), jnp.asarray(y))))
    return _reduction(
        whole, [float(jnp.mean(f(jnp.asarray(z[i : i + 1]), jnp.asarray(y[i : i + 1])))) for i in range(M)]
    )


def torch_reduction(loss_ref, t: Target) -> str:
    import torch  # late: a framework: loads after the numerics flags

    f = resolve_ref(loss_ref)
    z, y = (torch.from_numpy(a) for a in _probe(t))
    return _reduction(float(f(z, y)), [float(f(z[i : i + 1], y[i : i + 1])) for i in range(M)])


def _other_reduction(t: Target) -> str:
    o = t.other
    if t.other_kind() in ("jax", "f64") and o.loss_fn is not None:
        return jax_reduction(o.loss_fn, t)
    if t.other_kind() == "torch" and o.torch_loss is not None:
        return torch_reduction(o.torch_loss, t)
    raise Refusal(f"{o.name}'s loss is not a function this process can probe")


def _jax(arm: Arm, t: Target) -> Arm:
    if arm.loss_fn is None:
        raise Refusal(f"{arm.name} declares no loss_fn")
    mine, theirs = jax_reduction(arm.loss_fn, t), _other_reduction(t)
    if mine == theirs:
        raise Refusal(f"nothing to change: both losses take the {mine} over the batch")
    own = resolve_ref(arm.loss_fn)

    def switched(z, y):
        n = z.shape[0]
        return own(z, y) / n if mine == "sum" else own(z, y) * n

    switched.__qualname__ = f"reduction[{mine}->{theirs}]"
    return replace(arm, loss_fn=switched)


def _torch(arm: Arm, t: Target) -> Arm:
    if arm.torch_loss is None:
        raise Refusal(f"{arm.name} declares no torch_loss")
    mine, theirs = torch_reduction(arm.torch_loss, t), _other_reduction(t)
    if mine == theirs:
        raise Refusal(f"nothing to change: both losses take the {mine} over the batch")
    own = resolve_ref(arm.torch_loss)

    def switched(z, y):
        n = z.shape[0]
        return own(z, y) / n if mine == "sum" else own(z, y) * n

    switched.__qualname__ = f"torch_reduction[{mine}->{theirs}]"
    return replace(arm, torch_loss=switched)


SWITCH = Switch(
    name="loss reduction",
    family="loss",
    description="the loss summed over the batch vs averaged over it",
    rows=("loss.reduction", "reduction"),
    demonstrated_by="loss-reduction",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={"keras": "a Keras arm's loss reduction is set by the workload's keras_loss: no generic setting"},
)
