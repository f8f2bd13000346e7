"""Layer arithmetic: the arm's own forward pass (a convolution padded torch's way, a BatchNormalization with
another epsilon, an activation approximated) switched to the other arm's. Demonstrated by same-padding.

JAX and f64 arms take the other arm's ``jax_apply`` and ``jax_layers`` (the workload's ``Model.jax_apply``
where it has none); a torch arm takes the workload's own torch forward pass (``Model.torch_apply``), which
is the other arm's only where that arm runs the workload's forward pass (no ``jax_apply`` of its own). This
switch changes whatever differs between two forward passes; a narrower one (the BatchNormalization momentum
switch) names its part."""

from __future__ import annotations

from dataclasses import replace

from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm


def _jax(arm: Arm, t: Target) -> Arm:
    if t.other_kind() not in ("jax", "f64"):
        raise Refusal(f"{t.other.name}'s forward pass is not a JAX function")
    return replace(arm, jax_apply=t.other.jax_apply, jax_layers=t.other.jax_layers)


def _torch(arm: Arm, t: Target) -> Arm:
    own_jax = t.other.jax_apply not in (None, t.workload.model.jax_apply)
    if t.other_kind() in ("jax", "f64") and own_jax:
        raise Refusal(f"{t.other.name} has its own jax_apply, which has no torch twin")
    if t.other_kind() == "torch":
        return replace(arm, torch_apply=t.other.torch_apply, torch_layers=t.other.torch_layers)
    if t.workload.model.torch_apply is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")
    if arm.torch_apply is None:
        raise Refusal(
            f"{arm.name} runs the workload's own torch forward pass (Model.torch_apply); {t.other.name}'s is a JAX "
            "function with no torch twin to switch to"
        )
    return replace(arm, torch_apply=None, torch_layers=None)


SWITCH = Switch(
    name="forward pass",
    family="layer arithmetic",
    description="the other arm's forward pass: padding, normalisation epsilon, activation",
    rows=("forward pass", "padding", "epsilon", "activation"),
    demonstrated_by="same-padding",
    broad=True,
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "another arm's whole forward pass is a function, which a Keras model built by keras_build cannot "
        "run in its layers' place (a single setting is a narrow switch's)"
    },
)
