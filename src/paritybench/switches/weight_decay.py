"""Weight decay's coefficient: a coupled decay ``g + lam w`` (optax ``add_decayed_weights(lam)``, torch
``weight_decay=lam``) switched to the other arm's coupled coefficient, on the same parameters (Keras's
``kernel_regularizer=l2(lam)`` adds ``2 lam w``: a port that copies lam decays half as hard). Demonstrated by
l2-weight-decay.

JAX arms: the difference ``lam_b - lam_a`` is added to the gradient before the arm's own optimizer
(``add_decayed_weights``: coupled decay is additive, so this is the arm's chain with lam_b), on the
parameters the decaying side's optimizer decays (probed: its update of a zero gradient at weights 1).
Torch arms: each parameter group with a weight decay gets lam_b. Coupled against decoupled (AdamW) is a
different optimizer formula and is refused.

Keras arms: the optimizer's ``weight_decay`` (``keras/src/optimizers/base_optimizer.py`` ``_apply_weight_decay``:
``w -= w wd lr`` on every variable before the update, decoupled) set to the other arm's decay per step: a decoupled
decay's coefficient (optax's ``adamw``, torch's ``AdamW``: ``lr lam w``; a JAX decay written straight into the
update, ``add_decayed_weights(-lr lam)``, is read as ``lr lam`` and divided by the learning rate), or a coupled one's
where the Keras optimizer is plain SGD without momentum (``w -= lr (g + lam w)``, the same step to rounding). A
coupled decay against any other Keras optimizer (Adam, RMSprop, SGD with momentum) is its ``coupled_weight_decay``
(``arms.keras_optimizers``: the optimizer's own update of ``g + lam w``, on every variable it updates, as optax's
``add_decayed_weights(lam)`` before it; not a ``kernel_regularizer``, whose ``l2 sum(w^2)`` joins the loss the arm
records and decays only the layers that carry one). Refused: a masked decay (Keras's optimizers take every
variable: ``exclude_from_weight_decay`` is no config setting), a coupled decay onto a Keras optimizer that clips its
gradients (the decay would follow the clip; the other arm's order is not read) or decays decoupled already, and a
Keras arm whose decay is an L2 penalty in its loss (switching its optimizer would decay twice)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.arms import keras_optimizers
from paritybench.switches.base import Refusal, Switch, Target, weight_decay
from paritybench.workloads.base import Arm, KerasEdit, resolve_ref


def _coefficients(arm: Arm, t: Target) -> tuple[float, float]:
    mine, theirs = weight_decay(t.row("weight decay")), weight_decay(t.row("weight decay", other=True))
    if mine is None or theirs is None:
        raise Refusal(
            f"weight decay rows not read as a coefficient ({arm.name}: {t.row('weight decay')}, "
            f"{t.other.name}: {t.row('weight decay', other=True)})"
        )
    if "decoupled" in (mine[1], theirs[1]):
        raise Refusal(f"coupled vs decoupled decay ({mine[1]} vs {theirs[1]}) is a different optimizer formula")
    if mine[0] == theirs[0]:
        raise Refusal(f"nothing to change: both decay {mine[0]:g} x w")
    return mine[0], theirs[0]


def _decayed(opt_ref, params: dict, lr: float) -> dict[str, bool]:
    """The parameters ``opt_ref``'s optimizer decays: those its update of a zero gradient at weights 1 moves."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: as above

    ones = {k: jnp.ones(s, jnp.float32) for k, s in params.items()}
    opt = resolve_ref(opt_ref)(lr)
    upd, _ = opt.update(jax.tree.map(jnp.zeros_like, ones), opt.init(ones), ones)
    return {k: bool(np.any(np.asarray(v) != 0)) for k, v in upd.items()}


def _jax(arm: Arm, t: Target) -> Arm:
    lam_a, lam_b = _coefficients(arm, t)
    decaying = arm if lam_a else t.other
    if decaying.optimizer is None:  # a torch or Keras arm's decay: no optax optimizer to probe
        raise Refusal(f"which parameters {decaying.name} decays cannot be probed (no optax optimizer)")
    mask = _decayed(decaying.optimizer, dict(t.workload.model.params), t.lr)
    if not any(mask.values()):
        raise Refusal(f"{decaying.name}'s optimizer moves no parameter from a zero gradient: no coupled decay found")
    own = arm.optimizer

    def switched(lr):
        import optax  # late: a framework: loads after the numerics flags

        inner = optax.sgd(lr) if own is None else resolve_ref(own)(lr)
        return optax.chain(optax.add_decayed_weights(lam_b - lam_a, mask=mask), inner)

    switched.__qualname__ = f"decay[{lam_a:g}->{lam_b:g}]"
    return replace(arm, optimizer=switched)


def _torch(arm: Arm, t: Target) -> Arm:
    _, lam_b = _coefficients(arm, t)
    if arm.torch_optimizer is None:
        raise Refusal(
            f"{arm.name} trains with torch.optim.SGD without weight decay: which parameters to decay is unknown"
        )
    build = resolve_ref(arm.torch_optimizer)

    def switched(params, lr):
        import torch  # late: a framework: loads after the numerics flags

        opt = build(params, lr)
        if isinstance(opt, torch.optim.AdamW):
            raise Refusal(f"{arm.name}'s AdamW decays decoupled")
        for g in opt.param_groups:
            if g.get("weight_decay"):
                g["weight_decay"] = lam_b
        return opt

    switched.__qualname__ = f"torch_decay[->{lam_b:g}]"
    return replace(arm, torch_optimizer=switched)


def _keras(arm: Arm, t: Target) -> Arm:
    row = t.row("weight decay", other=True)
    theirs = weight_decay(row)
    if theirs is None:
        raise Refusal(f"{t.other.name}'s weight decay row is not read as a coefficient ({row})")
    if "masked" in str(row):
        raise Refusal(
            f"{t.other.name} decays some parameters only ({row}): a Keras optimizer's weight_decay takes every "
            "variable (exclude_from_weight_decay is no config setting)"
        )
    lam, how = theirs
    key = "weight_decay"
    if how == "coupled":
        plain_sgd = t.row("optimizer") == "SGD" and not t.row("optimizer.momentum")
        if t.rows_self and not plain_sgd:
            key = keras_optimizers.COUPLED_WEIGHT_DECAY  # g + lam w into the optimizer's own update
            clip = t.row("gradient clipping")
            if clip not in (None, "none"):
                raise Refusal(
                    f"{arm.name}'s optimizer clips its gradients ({clip}): a coupled decay would be added after the "
                    f"clip, and where {t.other.name} adds it is not read"
                )
            mine = weight_decay(t.row("weight decay"))
            if mine is not None and mine[1] == "decoupled":
                raise Refusal(
                    f"{arm.name}'s {t.row('optimizer')} decays decoupled (weight_decay), {t.other.name} coupled: "
                    "a different optimizer formula"
                )
    elif how == "decoupled" and "(added to the update)" in str(row) and t.other_kind() in ("jax", "f64"):
        # add_decayed_weights(-lr lam) straight into the update: its row reads lr lam, to the row's 6 digits
        lam = float(f"{lam / t.lr:.6g}")
    l2 = t.row("L2 in the loss")
    if l2 not in (None, "none"):
        raise Refusal(f"{arm.name}'s decay is an L2 penalty in its loss ({l2}): an optimizer decay would decay twice")
    mine = weight_decay(t.row("weight decay"))
    if mine is not None and mine[0] == lam:
        raise Refusal(f"nothing to change: both decay {lam:g} x w per unit learning rate")
    value = (lam or None) if key == "weight_decay" else lam
    return replace(arm, keras_edits=(*arm.keras_edits, KerasEdit("optimizer", None, key, value)))


SWITCH = Switch(
    name="weight decay coefficient",
    family="optimizer",
    description="the coupled weight decay's coefficient (lam*w vs Keras l2's 2*lam*w)",
    rows=("weight decay", "decay", "L2 in the loss"),
    demonstrated_by="l2-weight-decay",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch, "keras": _keras},
)
