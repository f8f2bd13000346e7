"""BatchNormalization's epsilon, added to the variance under the square root (Keras 1e-3; torch and flax 1e-5),
switched to the other arm's on a torch arm. Demonstrated by batchnorm-momentum (its ``torch-bn`` port normalises
with torch's 1e-5).

A torch arm's epsilon is read from the ``torch.nn.functional.batch_norm`` calls its forward pass makes
(``bn_calls``), and the switched arm calls ``batch_norm`` with the other arm's. A JAX or f64 arm's epsilon is a
number inside its own arithmetic, which no call shows: the other arm's is then its ``epsilon`` conventions row
(the code's reading, else its declaration), and a JAX arm itself is not switched (refused). A Keras arm's
``BatchNormalization`` layers are rebuilt with the other arm's epsilon (``keras_edits``; a Keras other arm's is
read from its layers' rows)."""

from __future__ import annotations

from paritybench.switches import bn_calls, keras_edits
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm


def theirs(t: Target) -> float:
    """The epsilon the other arm normalises with: its ``batch_norm`` calls' (torch), its layers' ``epsilon`` rows
    (Keras), else its ``epsilon`` row."""
    if t.other_kind() == "torch":
        return bn_calls.one(bn_calls.record(t.other, t), "eps", t.other)
    if t.other_kind() == "keras" and (values := set(keras_edits.layer_values(t, "epsilon", other=True).values())):
        if len(values) > 1:
            raise Refusal(f"{t.other.name}'s layers normalise with several epsilons ({sorted(values)})")
        return float(values.pop())
    row = t.row("epsilon", other=True)
    if row is None:
        raise Refusal(f"{t.other.name}'s batch norm epsilon is inside its own arithmetic and it has no epsilon row")
    try:
        return float(row)
    except (TypeError, ValueError):
        raise Refusal(f"{t.other.name}'s epsilon row reads {row!r}, not a number") from None


def _torch(arm: Arm, t: Target) -> Arm:
    mine = bn_calls.one(bn_calls.record(arm, t), "eps", arm)
    eps = theirs(t)
    if mine == eps:
        raise Refusal(f"nothing to change: both normalise with epsilon {eps:g}")
    return bn_calls.with_setting(arm, t, "eps", eps, f"eps={eps:g}")


def _keras(arm: Arm, t: Target) -> Arm:
    eps = theirs(t)
    return keras_edits.layer(arm, t, "BatchNormalization", "epsilon", eps, "BatchNormalization epsilon")


SWITCH = Switch(
    name="batchnorm epsilon",
    family="normalisation",
    description="the epsilon added to the batch variance before the square root (Keras 1e-3, torch 1e-5)",
    rows=("epsilon", "bn.eps"),
    demonstrated_by="batchnorm-momentum",
    appliers={"torch": _torch, "keras": _keras},
    refusals={
        "jax": "a JAX arm's batch norm epsilon is a number inside its own arithmetic: no call to switch",
        "f64": "a JAX arm's batch norm epsilon is a number inside its own arithmetic: no call to switch",
    },
)
