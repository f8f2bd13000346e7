"""The switches that read a forward pass by running it (conv padding, pool padding) run a stateful one with its
model state: dropout-rng's JAX arms take ``apply(params, x, state, training)``. Before, both called
``apply(params, x)``, and explain's record carried the raw ``TypeError`` ("missing 1 required positional argument:
'state'") as the switch's refusal."""

from __future__ import annotations

import pytest


def _target(workload: str, other: str):
    from paritybench.experiment import data
    from paritybench.experiment.weights import copy_weights
    from paritybench.switches import Target
    from paritybench.workloads import datasource, registry
    from paritybench.workloads.base import resolve_ref

    w = registry.load(workload)
    x, y = data.window(datasource.load(w, None, None), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    init = copy_weights(resolve_ref(w.model.init)(0, False), w.model.params)
    return w, Target(w, w.arm(other), {}, {}, w.training.lr, x[:8], y[:8], init, w.model.initial_state())


@pytest.mark.parametrize("arm", ["jax-stax-keep-rate", "jax-dropout-at-eval"])
def test_conv_and_pool_padding_read_a_stateful_jax_forward_pass_and_find_no_conv_or_pool(arm):
    from paritybench.switches import Refusal, conv_padding, pool_padding

    w, t = _target("dropout-rng", "reference-f64")
    assert t.state  # the point of the test: a forward pass that takes the model state
    with pytest.raises(Refusal, match=r"makes 0 lax.conv_general_dilated calls, not one"):
        conv_padding.read(w.arm(arm), t)
    with pytest.raises(Refusal, match=r"makes 0 summing lax.reduce_window calls, not one pool"):
        pool_padding.read(w.arm(arm), t)


def test_pool_padding_still_reads_a_stateless_pool():
    """The stateless path reads what it read before: pool-padding's float64 arbiter pools as TensorFlow's SAME
    (3x3, stride 2: the odd padding cell at the high end, divided by the real cells), its torch port pads one
    cell on every side and divides by the whole window (``count_include_pad``)."""
    from paritybench.switches import pool_padding

    w, t = _target("pool-padding", "reference-f64")
    assert not t.state
    ref, port = pool_padding.read(w.arm(w.reference), t), pool_padding.read(w.arm("torch-avgpool-pad1"), t)
    assert (ref.window, ref.strides, ref.pads, ref.divisor) == ((3, 3), (2, 2), ((0, 1), (0, 1)), pool_padding.COUNT)
    assert (port.pads, port.divisor) == (((1, 1), (1, 1)), pool_padding.WINDOW)
