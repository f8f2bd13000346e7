"""Dropout at evaluation: whether an arm's evaluation forward pass still drops units (a port that builds its
network once in training mode, as ``stax.Dropout(rate, mode='train')`` fixes it), read from the draws it makes in
evaluation mode (``switches.dropout``) and switched off there: the mask all ones and the kept values unscaled.
Switching dropout on at evaluation is not offered. Demonstrated by dropout-rng."""

from __future__ import annotations

from paritybench.switches import dropout
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm


def _switch(kind: str):
    def apply(arm: Arm, t: Target) -> Arm:
        mine = dropout.read(arm, kind, t, training=False)
        other = t.other_kind()
        if other not in ("jax", "f64", "torch"):
            raise Refusal(f"{t.other.name}'s forward pass runs in a worker: its dropout cannot be read here")
        theirs = dropout.read(t.other, other, t, training=False)
        if bool(mine) == bool(theirs):
            raise Refusal(f"nothing to change: both {'drop' if mine else 'drop no'} units at evaluation")
        if not mine:
            raise Refusal(f"{arm.name} drops no units at evaluation: switching dropout on there is not offered")
        return dropout.switched(arm, kind, t, dropout.OFF, mode=False)

    return apply


SWITCH = Switch(
    name="dropout at evaluation",
    family="layer arithmetic",
    description="dropout left on in the evaluation forward pass -> off (identity), read from the draws there",
    rows=("dropout at evaluation",),
    demonstrated_by="dropout-rng",
    appliers={k: _switch(k) for k in ("jax", "f64", "torch")},
    refusals={
        "keras": "Keras's Dropout drops only when called with training=True (keras/src/layers/regularization/"
        "dropout.py): no config keeps it dropping at evaluation"
    },
)
