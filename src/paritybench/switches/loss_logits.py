"""The loss path: a loss on the head's probabilities (clipped, clamped or raw) switched to the same loss taken
from the logits (optax's and torch's ``*_with_logits`` forms, the convention Keras's TensorFlow backend follows
through its cached logits). Demonstrated by seed-bce (sigmoid BCE) and softmax-ce (softmax CE).

Read from the code: a loss is taken "from the logits" where, on saturated logits (8 rows, normal with standard
deviation 30, where a probability rounds to 0 or 1 in float32), its mean equals the logits loss's to 1e-3; an arm
whose loss already does has nothing to change, and the switch is refused where the other arm's loss (JAX, f64 or
torch; a Keras arm's is not read here) is not from the logits either.

One convention only: the switch is also refused where the arm's per-sample loss does not have the shape the logits
loss has (a loss that broadcasts its labels would change shape too: that is the per-sample switch's)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.switches.base import Refusal, Switch, Target
from paritybench.switches.loss_reduction import jax_reduction, torch_reduction
from paritybench.workloads.base import Arm, KerasEdit, resolve_ref


def _jax_logits_loss(head: str):
    import optax  # late: a framework: loads after the numerics flags

    if head == "sigmoid":
        return optax.sigmoid_binary_cross_entropy
    if head == "softmax":
        return optax.softmax_cross_entropy
    raise Refusal(f"a {head} head has no probability path to switch")


def _saturated(t: Target) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(t.y[:8], np.float32)
    return np.asarray(np.random.default_rng(0).normal(0.0, 30.0, y.shape), np.float32), y


def from_logits_already(kind: str, arm: Arm, t: Target) -> bool | None:
    """Whether ``arm``'s loss equals the loss from the logits on saturated logits (None: not readable here)."""
    z, y = _saturated(t)
    try:
        if kind in ("jax", "f64") and arm.loss_fn is not None:
            import jax.numpy as jnp  # late: a framework: loads after the numerics flags

            own = float(jnp.mean(resolve_ref(arm.loss_fn)(jnp.asarray(z), jnp.asarray(y))))
            ref = float(jnp.mean(_jax_logits_loss(t.workload.model.head)(jnp.asarray(z), jnp.asarray(y))))
        elif kind == "torch" and arm.torch_loss is not None:
            import torch  # late: a framework: loads after the numerics flags

            own = float(resolve_ref(arm.torch_loss)(torch.from_numpy(z), torch.from_numpy(y)))
            ref = float(_torch_logits_loss(t.workload.model.head)(torch.from_numpy(z), torch.from_numpy(y)))
        else:
            return None
    except Refusal:
        raise
    except Exception:  # a loss that cannot take these shapes: not readable this way
        return None
    return bool(np.isfinite(own) and np.isclose(own, ref, rtol=1e-3))


def _torch_logits_loss(head: str):
    def loss(z, y):
        import torch.nn.functional as F  # late: a framework: loads after the numerics flags

        return F.binary_cross_entropy_with_logits(z, y) if head == "sigmoid" else F.cross_entropy(z, y)

    return loss


def _directions(kind: str, arm: Arm, t: Target) -> None:
    """Refused where ``arm`` already takes its loss from the logits, or where the other arm does not."""
    if from_logits_already(kind, arm, t):
        raise Refusal(f"nothing to change: {arm.name}'s loss already equals the loss from the logits")
    if from_logits_already(t.other_kind(), t.other, t) is False:
        raise Refusal(f"{t.other.name}'s loss is not taken from the logits either")


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
    _directions("jax", arm, t)

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
    _directions("torch", arm, t)
    from_logits = _torch_logits_loss(head)
    from_logits.__qualname__ = f"torch_from_logits[{head}]"
    return replace(arm, torch_loss=from_logits)


def _keras(arm: Arm, t: Target) -> Arm:
    """The Keras loss rebuilt with ``from_logits=True``, its worker taking the head's activation off the model's last
    layer (``arms.keras_worker.KerasArm``: the loss receives the logits, as a Keras user writes it)."""
    head = t.workload.model.head
    if head not in ("sigmoid", "softmax"):
        raise Refusal(f"a {head} head has no probability path to switch")
    if arm.process == "keras-tensorflow":
        raise Refusal(
            "nothing to change: Keras's TensorFlow backend already takes its cross-entropy from the logits the head's "
            "activation cached on its output (_keras_logits, keras/src/backend/tensorflow/nn.py _get_logits)"
        )
    if t.rows_self:
        loss, given = str(t.row("loss")), str(t.row("loss input"))
        if "from_logits=True" in given:
            raise Refusal(f"nothing to change: {arm.name}'s loss already takes the logits")
        if "'from_logits'" not in loss:
            raise Refusal(f"{arm.name}'s loss ({loss}) has no from_logits setting in its config")
    if from_logits_already(t.other_kind(), t.other, t) is False:
        raise Refusal(f"{t.other.name}'s loss is not taken from the logits either")
    return replace(arm, keras_edits=(*arm.keras_edits, KerasEdit("loss", None, "from_logits", True)))


SWITCH = Switch(
    name="loss from logits",
    family="loss",
    description="the loss taken from the logits instead of the head's probabilities",
    rows=("loss", "loss path", "loss input", "loss.from_logits"),
    demonstrated_by="seed-bce",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch, "keras": _keras},
)
