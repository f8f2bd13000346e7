"""issue 19 section 2: the recurrent bias split (layer arithmetic) on examples/own_lstm, a user's Keras LSTM and its
torch ports built by the adapters. ``torch-literal`` copies Keras's one bias into both of torch's (its mapping
override, which explain is not told): explain must name the split and close the gap with it, reading each arm's
weight map. A GRU is refused with its reason."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("torch")

LSTM = str(Path(__file__).resolve().parents[1] / "examples" / "own_lstm" / "workload.py")


def _setting(steps=2):
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import localize
    from paritybench.workloads import datasource, registry
    from paritybench.workloads.base import resolve_ref

    w = registry.load(LSTM)
    x, y = data.window(datasource.load(w, None, None), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    init = copy_weights(resolve_ref(w.model.init)(0, False), w.model.params)
    return w, localize.Context(w, w.training.lr, steps, x, y, init, NumericsOptions(), n=w.data.n)


def _target(w, ctx, other):
    from paritybench.switches import Target

    return Target(w, w.arm(other), {}, {}, ctx.lr, ctx.x[:8], ctx.y[:8], ctx.init)


def test_recurrent_bias_split_is_read_from_each_arms_weight_map_and_switched():
    from paritybench.switches import Refusal, recurrent_bias

    w, ctx = _setting()
    t = _target(w, ctx, "reference-f64")
    for arm, c in (("torch", 1.0), ("torch-literal", 2.0)):
        m = recurrent_bias.weight_map(recurrent_bias.model_of(w.arm(arm), t), t)
        assert recurrent_bias.multiples(m, t) == {"rnn": c}, arm
    switched = recurrent_bias.SWITCH.apply(w.arm("torch-literal"), t)
    # the switched port computes the faithful port's forward pass at the same weights
    import torch

    params = {k: torch.from_numpy(np.asarray(v, np.float32)) for k, v in ctx.init.items()}
    x = torch.from_numpy(np.asarray(ctx.x[:4], np.float32))
    with torch.no_grad():
        got = switched.torch_apply(params, x).numpy()
        want = w.arm("torch").torch_apply(params, x).numpy()
        literal = w.arm("torch-literal").torch_apply(params, x).numpy()
    np.testing.assert_array_equal(got, want)
    assert np.abs(literal - want).max() > 1e-3
    # toward another adapter's torch arm: its own entries; nothing to change where the splits agree
    back = recurrent_bias.SWITCH.apply(w.arm("torch"), _target(w, ctx, "torch-literal"))
    with torch.no_grad():
        np.testing.assert_array_equal(back.torch_apply(params, x).numpy(), literal)
    with pytest.raises(Refusal, match="nothing to change"):
        recurrent_bias.SWITCH.apply(w.arm("torch"), t)
    with pytest.raises(Refusal, match="declared \\(Keras\\) layout"):
        recurrent_bias.SWITCH.apply(w.arm("jax"), _target(w, ctx, "torch-literal"))


def test_recurrent_bias_split_is_named_and_closes_the_literal_port():
    from paritybench.pipeline import explain

    w, ctx = _setting()
    p = explain.explain_pair(ctx, w.arm("torch-literal"), w.arm("reference-f64"), {}, {}).to_dict()
    assert p["parted"] is not None and (p["parted"]["step"], p["parted"]["tensor"]) == (0, "rnn"), p
    top = p["switches"][0]
    assert top["name"] == "recurrent bias split" and top["closes"], p["switches"]
    assert top["ratio_after"] < 100 < top["ratio_before"]
    others = [s for s in p["switches"][1:] if s["refused"] is None]
    assert all(not s["closes"] for s in others), p["switches"]


def test_a_gru_is_refused_with_its_reason():
    import torch

    from paritybench.adapters import torch_params
    from paritybench.adapters.arms import declared_table
    from paritybench.adapters.mapping import plan
    from paritybench.switches import Refusal, recurrent_bias

    declared = {"rnn/kernel": (3, 24), "rnn/recurrent_kernel": (8, 24), "rnn/bias": (2, 24)}
    m = plan(declared_table(declared), torch_params.read_torch(torch.nn.GRU(3, 8, batch_first=True)))
    t = SimpleNamespace(workload=SimpleNamespace(model=SimpleNamespace(params=declared)))
    with pytest.raises(Refusal, match="is a GRU: Keras's reset_after=True GRU keeps two bias rows"):
        recurrent_bias.multiples(m, t)
