"""The loss path: a loss on the head's probabilities (clipped, clamped or raw) switched to the same loss taken
from the logits (optax's and torch's ``*_with_logits`` forms, the convention Keras's TensorFlow backend follows
through its cached logits). Demonstrated by seed-bce (sigmoid BCE) and softmax-ce (softmax CE).

One convention only: the switch is refused where the arm's per-sample loss does not have the shape the logits
loss has (a loss that broadcasts its labels would change shape too: that is the per-sample switch's)."""

from __future__ import annotations

from dataclasses import replace

from paritybench.switches.base import Refusal, Switch, Target
from paritybench.switches.loss_reduction import jax_reduction, torch_reduction
from paritybench.workloads.base import Arm, resolve_ref


def _jax_logits_loss(head: str):
    import optax  # late: a framework: loads after the numerics flags

    if head == "sigmoid":
        return optax.sigmoid_binary_cross_entropy
    if head == "softmax":
        return optax.softmax_cross_entropy
    raise Refusal(f"a {head} head has no probability path to switch")


def _jax(arm: Arm, t: Target) -> Arm:
    import jax  # late: a framework: loads after the numerics flags

    logits_loss = _jax_logits_loss(t.workload.model.head)
    if arm.loss_fn is None:
        raise Refusal(f"{arm.name} declares no loss_fn")
    own = resolve_ref(arm.loss_fn)
    z = jax.ShapeDtypeStruct((t.y.shape[0], *t.y.shape[1:]), "float32")
    y = jax.ShapeDtypeStruct(t.y.shape, "float32")
    shape_own, shape_new = jax.eval_shape(own, z, y).shape, jax.eval_shape(logits_loss, z, y).shape
    if shape_own != shape_new:
        raise Refusal(
            f"{arm.name}'s loss has shape {shape_own}, the logits loss {shape_new}: switching its input would change "
            "its shape too (the per-sample switch's convention)"
        )

    _mean_only(jax_reduction, arm.loss_fn, arm, t)

    def from_logits(z, y):
        return logits_loss(z, y)

    from_logits.__qualname__ = f"from_logits[{t.workload.model.head}]"
    return replace(arm, loss_fn=from_logits)


def _mean_only(probe, loss_ref, arm: Arm, t: Target) -> None:
    """A loss summed over the batch would change its reduction too: the loss reduction switch's convention."""
    try:
        summed = probe(loss_ref, t) == "sum"
    except Refusal:
        summed = False
    if summed:
        raise Refusal(f"{arm.name}'s loss sums over the batch: the logits loss (a mean) would change its reduction too")


def _torch(arm: Arm, t: Target) -> Arm:
    head = t.workload.model.head
    if head not in ("sigmoid", "softmax"):
        raise Refusal(f"a {head} head has no probability path to switch")
    if arm.torch_loss is not None:
        _mean_only(torch_reduction, arm.torch_loss, arm, t)

    def from_logits(z, y):
        import torch.nn.functional as F  # late: a framework: loads after the numerics flags

        return F.binary_cross_entropy_with_logits(z, y) if head == "sigmoid" else F.cross_entropy(z, y)

    from_logits.__qualname__ = f"torch_from_logits[{head}]"
    return replace(arm, torch_loss=from_logits)


SWITCH = Switch(
    name="loss from logits",
    family="loss",
    description="the loss taken from the logits instead of the head's probabilities",
    rows=("loss", "loss path", "loss input", "loss.from_logits"),
    demonstrated_by="seed-bce",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "a Keras arm's loss reads its model's activation output (from_logits=False); taking the logits needs "
        "the model built without that activation, which keras_build does not offer"
    },
)
