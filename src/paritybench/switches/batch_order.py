"""The batch order: which rows each step trains on, in window order (a loop over the batches, a torch
``DataLoader``'s default ``shuffle=False``, Keras's ``fit(shuffle=False)``) or in Keras-JAX's
``fit(shuffle=True)`` order (``Arm.shuffle_seed``: NumPy ``RandomState(seed)``'s permutations, the first one
skipped, ``arms.minibatch.numpy_fit_order``), switched to the other arm's. Demonstrated by fit-shuffle.

Read from what the arms train on, not from the declarations: each arm's rows per step are those
``localize.Context.batches_for`` gives it (the rows its trainer and localize's teacher-forced re-run step
through), compared row by row. A JAX, f64 or torch arm takes the other arm's ``shuffle_seed`` and must then
step through exactly the other arm's rows (else refused). For a torch arm this holds in explain's re-run only:
its evaluator steps through ``batches_for``'s rows, which follow ``shuffle_seed`` for any arm trained in this
process, while the torch trainer of ``paritybench run`` trains in window order (the workload's validation
refuses ``shuffle_seed`` on a declared torch arm). A Keras arm's shuffled order is drawn in its worker by its
backend's generator: it cannot be switched, and a shuffled Keras arm's rows cannot be read here."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm


def rows(arm: Arm, t: Target) -> tuple[tuple[int, ...], ...]:
    """The rows ``arm`` trains each step on, as index tuples."""
    if t.batches_for is None:
        raise Refusal("the rows each arm trains on are not known here (no localize context)")
    if arm.shuffle_seed is not None and kind_of(arm).in_worker:
        raise Refusal(
            f"{arm.name} is a Keras arm whose fit(shuffle=True) order is drawn in its worker by its backend's "
            "generator: its rows cannot be read here"
        )
    b = t.batches_for(arm)
    index = np.arange(b.x.shape[0])
    return tuple(tuple(int(i) for i in np.atleast_1d(index[s])) for s in b.slices)


def _here(arm: Arm, t: Target) -> Arm:
    mine, theirs = rows(arm, t), rows(t.other, t)
    if mine == theirs:
        raise Refusal(f"nothing to change: {arm.name} and {t.other.name} train on the same rows at every step")
    switched = replace(arm, shuffle_seed=t.other.shuffle_seed)
    if rows(switched, t) != theirs:
        raise Refusal(
            f"{arm.name} with {t.other.name}'s shuffle_seed ({t.other.shuffle_seed}) still trains on other rows: "
            f"{t.other.name}'s order is not one {arm.name}'s kind draws"
        )
    return switched


SWITCH = Switch(
    name="batch order",
    family="data order",
    description="the rows of each step: window order vs Keras-JAX's fit(shuffle=True) order (Arm.shuffle_seed)",
    rows=("batch order",),
    demonstrated_by="fit-shuffle",
    appliers={"jax": _here, "f64": _here, "torch": _here},
    refusals={
        "keras": "a Keras arm's fit order is drawn in its worker by its backend's generator: no setting to switch",
    },
)
