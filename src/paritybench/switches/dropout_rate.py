"""Dropout's rate: the share of units an arm's forward pass keeps in training mode (and the ``1/keep`` scale of
the kept ones), read from the draws it makes (``switches.dropout``) and switched to the other arm's. A port that
writes ``stax.Dropout(0.2)`` for Keras's ``Dropout(0.2)`` keeps 20% and scales by 5 (stax's ``rate`` is the keep
probability) where Keras keeps 80% and scales by 1.25. Demonstrated by dropout-rng. A Keras arm's ``Dropout``
layers are rebuilt with ``rate = 1 - q`` for the other arm's keep probability ``q`` (``switches.keras_edits``)."""

from __future__ import annotations

import numpy as np

from paritybench.switches import dropout, keras_edits
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm


def _keep(arm: Arm, kind: str, t: Target) -> list[float]:
    return dropout.read(arm, kind, t, training=True)


def _switch(kind: str):
    def apply(arm: Arm, t: Target) -> Arm:
        mine = _keep(arm, kind, t)
        if not mine:
            raise Refusal(
                f"{arm.name}'s training forward pass draws no dropout mask (jax.random.bernoulli / F.dropout)"
            )
        other = t.other_kind()
        if other not in ("jax", "f64", "torch"):
            raise Refusal(f"{t.other.name}'s forward pass runs in a worker: its dropout cannot be read here")
        theirs = _keep(t.other, other, t)
        if not theirs:
            raise Refusal(f"{t.other.name}'s training forward pass draws no dropout mask that can be read here")
        if len(set(theirs)) > 1 or len(theirs) != len(mine):
            raise Refusal(
                f"{arm.name} draws {len(mine)} dropout masks, {t.other.name} {len(theirs)} with keep "
                f"{sorted(set(theirs))}: no one rate to switch to"
            )
        if np.allclose(mine, theirs, rtol=1e-6):
            raise Refusal(f"nothing to change: both keep {theirs[0]:.6g} of the units in training")
        return dropout.switched(arm, kind, t, theirs[0], mode=True)

    return apply


def _keras(arm: Arm, t: Target) -> Arm:
    other = t.other_kind()
    if other not in ("jax", "f64", "torch"):
        raise Refusal(f"{t.other.name}'s forward pass runs in a worker: its dropout cannot be read here")
    theirs = _keep(t.other, other, t)
    if not theirs or len(set(theirs)) > 1:
        raise Refusal(f"{t.other.name}'s training forward pass draws no one dropout keep probability that can be read")
    rate = float(f"{1.0 - theirs[0]:.6g}")  # keras.layers.Dropout's rate is the DROP probability
    return keras_edits.layer(arm, t, "Dropout", "rate", rate, "Dropout rate")


SWITCH = Switch(
    name="dropout rate",
    family="layer arithmetic",
    description="the share of units dropout keeps in training (and its 1/keep scale) -> b's, read from the draws",
    rows=("dropout rate",),
    demonstrated_by="dropout-rng",
    appliers={**{k: _switch(k) for k in ("jax", "f64", "torch")}, "keras": _keras},
)
