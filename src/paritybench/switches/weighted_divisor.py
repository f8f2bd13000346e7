"""A weighted mean's divisor: ``sum(w_i l_i) / sum(w_i)`` (torch's ``CrossEntropyLoss(weight)`` ``'mean'`` on
class indices, Keras's ``mean_with_sample_weight``) vs ``sum(w_i l_i) / n`` (Keras's ``sum_over_batch_size``
with ``class_weight``): the same weighted losses, steps ``n / sum(w_i)`` times the other's.

Read from the code, never the declarations: each side's loss is probed on one row per class (one-hot labels,
random logits), each row alone (``alone_c``), row 0 beside row ``c`` and all rows together. A loss divided by
``n`` takes the mean of its rows alone; one divided by ``sum(w)`` gives each row alone its unweighted loss, and
a pair ``(0, c)`` the mean weighted by ``w_0, w_c``, which gives ``w_c / w_0``; the whole is then their weighted
mean. An unweighted mean reads as ``n`` too, and a sum as neither (refused). The class weights the switched
loss needs at run time are read as the weighted side's loss on a row alone over the other side's on the same
row (which must be proportional to the ``sum(w)`` side's ``w_c / w_0``, else the weights differ too and the
switch is refused). The switched loss is the arm's own times ``sum(w) / n`` (or ``n / sum(w)``) over each batch,
the weights taken from the one-hot labels. Demonstrated by loss-reduction."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, resolve_ref

RTOL = 1e-3


@dataclass(frozen=True)
class Reading:
    """How a loss reduces weighted rows: ``divisor`` "n" or "sum(w)"; ``alone``: its loss on each class's row
    alone; ``ratios``: ``w_c / w_0`` (the "sum(w)" side only)."""

    divisor: str
    alone: np.ndarray
    ratios: np.ndarray | None = None


def _probe(t: Target) -> tuple[np.ndarray, np.ndarray]:
    if t.y.ndim != 2 or t.y.shape[1] < 2:
        raise Refusal(f"labels of shape {t.y.shape[1:]} are not one-hot rows: no class weights to probe")
    k = t.y.shape[1]
    z = np.random.default_rng(0).normal(0.0, 1.0, (k, k)).astype(np.float32)
    return z, np.eye(k, dtype=np.float32)


def _read(loss, k: int) -> Reading:
    """``loss(rows) -> float`` over the probe's ``k`` rows (by index), read as a divisor."""
    alone = np.array([loss([c]) for c in range(k)])
    whole = loss(list(range(k)))
    if np.isclose(whole, alone.mean(), rtol=RTOL):
        return Reading("n", alone)
    ratios = np.ones(k)
    for c in range(1, k):
        pair = loss([0, c])
        if np.isclose(pair, alone[c], rtol=RTOL, atol=0.0) or not np.isfinite(pair):
            raise Refusal(f"the loss over rows 0 and {c} ({pair:.6g}) is no weighted mean of the rows alone")
        ratios[c] = (alone[0] - pair) / (pair - alone[c])
    if np.all(ratios > 0) and np.isclose(whole, float(ratios @ alone / ratios.sum()), rtol=RTOL):
        return Reading("sum(w)", alone, ratios)
    raise Refusal(
        f"the loss over {k} rows ({whole:.6g}) is neither the mean of the rows alone ({alone.mean():.6g}) "
        "nor their mean weighted as each pair of rows reads"
    )


def _jax_reading(loss_ref, t: Target) -> Reading:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    f = resolve_ref(loss_ref)
    z, y = _probe(t)
    return _read(lambda rows: float(jnp.mean(f(jnp.asarray(z[rows]), jnp.asarray(y[rows])))), len(y))


def _torch_reading(loss_ref, t: Target) -> Reading:
    import torch  # late: a framework: loads after the numerics flags

    f = resolve_ref(loss_ref)
    z, y = _probe(t)
    return _read(lambda rows: float(f(torch.from_numpy(z[rows]), torch.from_numpy(y[rows]))), len(y))


def _other(t: Target) -> Reading:
    o, kind = t.other, t.other_kind()
    if kind in ("jax", "f64") and o.loss_fn is not None:
        return _jax_reading(o.loss_fn, t)
    if kind == "torch" and o.torch_loss is not None:
        return _torch_reading(o.torch_loss, t)
    raise Refusal(f"{o.name}'s loss is not a function this process can probe")


def _class_weights(mine: Reading, theirs: Reading) -> np.ndarray:
    """The class weights: the "n" side's row alone (``w_c l_c``) over the "sum(w)" side's (``l_c``)."""
    weighted, plain = (mine, theirs) if mine.divisor == "n" else (theirs, mine)
    w = weighted.alone / plain.alone
    ratios = plain.ratios
    if ratios is None:
        raise Refusal("neither loss divides by the sum of its weights")
    if not np.allclose(w / w[0], ratios, rtol=1e-2):
        raise Refusal(
            f"the class weights differ too ({np.round(w / w[0], 4)} vs {np.round(ratios, 4)}), not only the divisor"
        )
    return w


def _factor(mine: Reading, theirs: Reading, arm: Arm) -> tuple[np.ndarray, str]:
    if mine.divisor == theirs.divisor:
        raise Refusal(f"nothing to change: both losses divide the weighted sum by {mine.divisor}")
    w = _class_weights(mine, theirs)
    if np.allclose(w, w[0], rtol=1e-4):
        raise Refusal(f"{arm.name}'s loss is not weighted: sum(w) / n is 1")
    return w, f"{mine.divisor}->{theirs.divisor}"


def _jax(arm: Arm, t: Target) -> Arm:
    if arm.loss_fn is None:
        raise Refusal(f"{arm.name} declares no loss_fn")
    mine = _jax_reading(arm.loss_fn, t)
    theirs = _other(t)
    w, label = _factor(mine, theirs, arm)
    own = resolve_ref(arm.loss_fn)

    def switched(z, y):
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags

        sw = jnp.sum(y @ jnp.asarray(w, y.dtype))
        n = y.shape[0]
        return own(z, y) * (sw / n if mine.divisor == "sum(w)" else n / sw)

    switched.__qualname__ = f"weighted_divisor[{label}]"
    return replace(arm, loss_fn=switched)


def _torch(arm: Arm, t: Target) -> Arm:
    if arm.torch_loss is None:
        raise Refusal(f"{arm.name} declares no torch_loss")
    mine = _torch_reading(arm.torch_loss, t)
    theirs = _other(t)
    w, label = _factor(mine, theirs, arm)
    own = resolve_ref(arm.torch_loss)

    def switched(z, y):
        import torch  # late: a framework: loads after the numerics flags

        sw = (y @ torch.as_tensor(w, dtype=y.dtype, device=y.device)).sum()
        n = y.shape[0]
        return own(z, y) * (sw / n if mine.divisor == "sum(w)" else n / sw)

    switched.__qualname__ = f"torch_weighted_divisor[{label}]"
    return replace(arm, torch_loss=switched)


SWITCH = Switch(
    name="weighted mean divisor",
    family="loss",
    description="a weighted loss divided by the sum of the weights vs by the batch size",
    rows=("loss reduction",),
    demonstrated_by="loss-reduction",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "a Keras arm's weighted divisor is its loss's reduction over fit's sample weights "
        "(mean_with_sample_weight divides by their sum): not switched here, as a loss that weighs its samples "
        "itself gets no sample weights to divide by"
    },
)
