"""SGD momentum's Nesterov look-ahead: the update takes ``g + m b`` (optax ``trace(nesterov=True)``, torch
``SGD(nesterov=True)``; Keras ``w += m v - lr_k g``) or the buffer alone, read from each optimizer's updates to
impulse gradients (``momentum_lr.read_rule``: the table's first lag weighs ``m^2 / (1 + m)`` of today's entry
with Nesterov, ``m`` without) and switched to the other arm's, keeping the arm's own momentum, per-step learning
rates and learning-rate placement. An arm with no momentum (both forms fit) has nothing to change. Demonstrated by
momentum-schedule (its Nesterov ports against the plain-momentum reference). A Keras arm's ``keras.optimizers.SGD``
is rebuilt with the other arm's ``nesterov`` flag (``keras_edits``; ``keras/src/optimizers/sgd.py``: ``w += m v -
lr g`` with it, ``w += v`` without, ``v = m v - lr g``), keeping its momentum and learning rate."""

from __future__ import annotations

from dataclasses import replace

from paritybench.switches import keras_edits
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.switches.momentum_lr import AFTER, EITHER, jax_optimizer, read_rule, torch_optimizer
from paritybench.workloads.base import Arm


def _plan(arm: Arm, t: Target):
    rule, mine, m, lrs = read_rule(arm, t)
    theirs = read_rule(t.other, t)[1]
    if mine is None or theirs is None:
        who = arm.name if mine is None else t.other.name
        raise Refusal(f"nothing to change: {who} keeps no momentum (plain and Nesterov alike)")
    if mine == theirs:
        raise Refusal(f"nothing to change: both {'take' if mine else 'take no'} Nesterov's look-ahead")
    # a constant learning rate: either placement is the arm's own
    return (AFTER if rule == EITHER else rule), theirs, m, lrs


def _jax(arm: Arm, t: Target) -> Arm:
    return replace(arm, optimizer=jax_optimizer(*_plan(arm, t)))


def _torch(arm: Arm, t: Target) -> Arm:
    return replace(arm, torch_optimizer=torch_optimizer(*_plan(arm, t)))


def _keras(arm: Arm, t: Target) -> Arm:
    theirs = read_rule(t.other, t)[1]
    if theirs is None:
        raise Refusal(f"nothing to change: {t.other.name} keeps no momentum (plain and Nesterov alike)")
    m = t.row("optimizer.momentum")
    if m is not None and not m:
        raise Refusal(f"nothing to change: {arm.name}'s SGD keeps no momentum (plain and Nesterov alike)")
    return keras_edits.optimizer(arm, t, "nesterov", bool(theirs), "SGD's nesterov flag", cls="SGD")


SWITCH = Switch(
    name="nesterov",
    family="optimizer",
    description="SGD momentum with Nesterov's look-ahead (g + m b) vs the buffer alone, read from the updates",
    rows=("momentum", "optimizer", "nesterov"),
    demonstrated_by="momentum-schedule",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch, "keras": _keras},
)
