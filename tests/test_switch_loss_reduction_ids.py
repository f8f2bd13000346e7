"""The loss-reduction switch probes a loss over integer class ids with logits that have a class axis: (n,) ids
take (n, k) logits, (n, T) ids take (n, T, k). Before, the probe built logits of the targets' own shape ((n,)
with no class axis), and every class-id loss was refused with "neither the mean nor the sum" (found on
examples/own_lstm)."""

from __future__ import annotations

import numpy as np
import pytest

from paritybench.switches.base import Target
from paritybench.switches.loss_reduction import jax_reduction, torch_reduction


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
