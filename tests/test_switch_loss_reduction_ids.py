"""The loss-reduction switch probes a loss over integer class ids with logits that have a class axis: (n,) ids
take (n, k) logits, (n, T) ids take (n, T, k). Before, the probe built logits of the targets' own shape ((n,)
with no class axis), and every class-id loss was refused with "neither the mean nor the sum" (found on
examples/own_lstm)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from paritybench.switches import loss_reduction
from paritybench.switches.base import Refusal, Target
from paritybench.switches.loss_reduction import jax_reduction, torch_reduction
from paritybench.workloads.base import Arm, KerasEdit


def _target(y: np.ndarray) -> Target:
    # the probe reads only the targets; the other fields are not used by it
    return Target(None, None, {}, {}, 0.1, np.zeros((len(y), 3)), y, {})  # type: ignore[arg-type]


def optax_mean(z, y):
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(z, y).mean()


def optax_sum(z, y):
    import optax

    return optax.softmax_cross_entropy_with_integer_labels(z, y).sum()


@pytest.mark.parametrize("shape", [(16,), (16, 5)])
def test_class_id_losses_are_read_as_mean_or_sum(shape):
    y = np.random.default_rng(1).integers(0, 10, shape).astype(np.int32)
    t = _target(y)
    assert jax_reduction(optax_mean, t) == "mean"
    # a sum over (n, T) ids sums positions too: the row-by-row probe sees m times the mean of rows
    assert jax_reduction(optax_sum, t) == "sum"


def test_torch_cross_entropy_over_class_ids(torch):
    y = np.random.default_rng(2).integers(0, 10, (16,)).astype(np.int64)
    t = _target(y)
    assert torch_reduction(torch.nn.functional.cross_entropy, t) == "mean"
    assert torch_reduction(lambda z, y: torch.nn.functional.cross_entropy(z, y, reduction="sum"), t) == "sum"


def test_float_targets_keep_their_shape():
    y = np.eye(10, dtype=np.float32)[np.arange(16) % 10]
    t = _target(y)

    def mse_sum(z, y):
        return ((z - y) ** 2).mean(axis=-1).sum()

    assert jax_reduction(mse_sum, t) == "sum"


def _pair(y: np.ndarray, head: str, mine, theirs, kind: str = "torch") -> tuple[Arm, Target]:
    from types import SimpleNamespace

    key = "torch_loss" if kind == "torch" else "loss_fn"
    arm = Arm("a", "", kind, "l", **{key: mine})
    other = Arm("b", "", kind, "l", **{key: theirs})
    w = SimpleNamespace(model=SimpleNamespace(head=head))
    return arm, Target(w, other, {}, {}, 0.1, np.zeros((len(y), 3)), y, {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("shape", "head", "sum_loss", "mean_loss"),
    [
        # an elementwise loss over (n, d): torch's "mean" divides by n d
        ((16, 5), "linear", "mse_sum", "mse_mean"),
        # cross-entropy over (n, T) class ids: its "mean" divides by n T
        ((16, 7), "softmax", "ce_ids_sum", "ce_ids_mean"),
        # cross-entropy over one-hot rows (n, C): one loss per row, its "mean" divides by n
        ((16, 10), "softmax", "ce_onehot_sum", "ce_onehot_mean"),
    ],
)
def test_a_torch_sum_is_switched_to_the_other_arms_mean_over_every_element(torch, shape, head, sum_loss, mean_loss):
    F = torch.nn.functional
    losses = {
        "mse_sum": lambda z, y: F.mse_loss(z, y, reduction="sum"),
        "mse_mean": lambda z, y: F.mse_loss(z, y),
        "ce_ids_sum": lambda z, y: F.cross_entropy(z.movedim(-1, 1), y, reduction="sum"),
        "ce_ids_mean": lambda z, y: F.cross_entropy(z.movedim(-1, 1), y),
        "ce_onehot_sum": lambda z, y: F.cross_entropy(z, y, reduction="sum"),
        "ce_onehot_mean": lambda z, y: F.cross_entropy(z, y),
    }
    rng = np.random.default_rng(3)
    if sum_loss.startswith("ce_ids"):
        y = rng.integers(0, 10, shape).astype(np.int64)
        z = rng.normal(size=(*shape, 10)).astype(np.float32)
    else:
        y = (
            np.eye(shape[1], dtype=np.float32)[rng.integers(0, shape[1], shape[0])]
            if head == "softmax"
            else (rng.normal(size=shape).astype(np.float32))
        )
        z = rng.normal(size=shape).astype(np.float32)
    arm, t = _pair(y, head, losses[sum_loss], losses[mean_loss])
    switched = loss_reduction.SWITCH.apply(arm, t)
    got = float(switched.torch_loss(torch.from_numpy(z), torch.from_numpy(y)))
    want = float(losses[mean_loss](torch.from_numpy(z), torch.from_numpy(y)))
    assert got == pytest.approx(want, rel=1e-5)
    # and back: the mean switched to the other arm's sum
    back = loss_reduction.SWITCH.apply(*_pair(y, head, losses[mean_loss], losses[sum_loss]))
    got = float(back.torch_loss(torch.from_numpy(z), torch.from_numpy(y)))
    assert got == pytest.approx(float(losses[sum_loss](torch.from_numpy(z), torch.from_numpy(y))), rel=1e-5)


def test_a_sum_of_per_row_sums_is_divided_by_the_batch_size_where_the_other_arm_means_those_rows():
    import jax.numpy as jnp

    def row_sums_sum(z, y):
        return jnp.sum(jnp.square(z - y))

    def row_sums_mean(z, y):  # a per-sample sum over d, averaged over the batch
        return jnp.mean(jnp.sum(jnp.square(z - y), axis=-1))

    y = np.random.default_rng(4).normal(size=(16, 5)).astype(np.float32)
    z = np.random.default_rng(5).normal(size=(16, 5)).astype(np.float32)
    switched = loss_reduction.SWITCH.apply(*_pair(y, "linear", row_sums_sum, row_sums_mean, kind="jax"))
    assert float(switched.loss_fn(jnp.asarray(z), jnp.asarray(y))) == pytest.approx(float(row_sums_mean(z, y)), 1e-5)


def test_a_keras_arms_reduction_is_read_from_its_loss_row_and_switched_to_the_other_arms():
    import jax.numpy as jnp

    def mean(z, y):
        return jnp.mean(jnp.square(z - y))

    y = np.zeros((16, 1), np.float32)
    keras_arm = Arm.keras("jax", "", "m:loss")
    _, t = _pair(y, "linear", mean, mean, kind="jax")
    summed = replace(t, rows_self={"loss": "keras.losses.MeanSquaredError {'name': 'mse', 'reduction': 'sum'}"})
    assert loss_reduction.SWITCH.apply(keras_arm, summed).keras_edits == (
        KerasEdit("loss", None, "reduction", "sum_over_batch_size"),
    )
    for row in (
        "keras.losses.mean_squared_error",
        "keras.losses.MeanSquaredError {'reduction': 'sum_over_batch_size'}",
    ):
        with pytest.raises(Refusal, match="nothing to change: both losses take the mean"):
            loss_reduction.SWITCH.apply(keras_arm, replace(t, rows_self={"loss": row}))
    with pytest.raises(Refusal, match="no reduction"):
        loss_reduction.SWITCH.apply(keras_arm, replace(t, rows_self={"loss": "keras.losses.X {'reduction': None}"}))
