"""The label shape: a loss whose labels broadcast against the logits across the batch (labels (n,) against
logits (n, 1) give an (n, n) matrix: every logit scored against every label) switched to each sample's loss
from its own logit and label alone, as Keras's loss wrapper aligns the shapes
(``squeeze_or_expand_to_same_rank``). For a loss that already scores each sample alone it changes nothing but
rounding. Demonstrated by label-shape."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, resolve_ref


def _jax(arm: Arm, t: Target) -> Arm:
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: as above

    if arm.loss_fn is None:
        raise Refusal(f"{arm.name} declares no loss_fn")
    own = resolve_ref(arm.loss_fn)
    n = t.y.shape[0]
    z = jax.ShapeDtypeStruct((n, *t.y.shape[1:]), "float32")
    out = jax.eval_shape(own, z, jax.ShapeDtypeStruct(t.y.shape, "float32")).shape
    if int(np.prod(out)) in (n, n * int(np.prod(t.y.shape[1:]))):
        raise Refusal(f"nothing to change: {arm.name}'s loss already gives one value per sample {out}")

    def per_sample(z, y):
        # each sample alone: (1, ...) logits against its own (1, ...) labels, the mean over what remains
        one = jax.vmap(lambda zi, yi: jnp.mean(own(zi[None], yi[None])))(z, y)
        return one

    per_sample.__qualname__ = "per_sample"
    return replace(arm, loss_fn=per_sample)


def _torch(arm: Arm, t: Target) -> Arm:
    if arm.torch_loss is None:
        raise Refusal(f"{arm.name} declares no torch_loss")
    own = resolve_ref(arm.torch_loss)

    def per_sample(z, y):
        import torch  # late: a framework: loads after the numerics flags

        return torch.stack([own(z[i : i + 1], y[i : i + 1]) for i in range(z.shape[0])]).mean()

    per_sample.__qualname__ = "torch_per_sample"
    return replace(arm, torch_loss=per_sample)


SWITCH = Switch(
    name="label shape (per-sample loss)",
    family="loss",
    description="each sample's loss from its own logit and label: no broadcasting of labels across the batch",
    rows=("labels", "loss shape"),
    demonstrated_by="label-shape",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "Keras's loss wrapper aligns label and prediction shapes itself (squeeze_or_expand_to_same_rank)"
    },
)
