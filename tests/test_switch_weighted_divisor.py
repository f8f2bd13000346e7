"""The weighted mean's divisor switch on pairs whose cause only this test knows: class weights written here, a
loss divided by their sum against one divided by the batch size (and a sum against a mean, which it must not
close); its reader on torch's ``CrossEntropyLoss(weight)`` for each target format."""

from __future__ import annotations

import numpy as np
import pytest

from paritybench.workloads import Arm, Data, Model, Training, Workload

MLP = {"h/kernel": (784, 16), "h/bias": (16,), "out/kernel": (16, 10), "out/bias": (10,)}
CW = (0.5, 1.0, 1.0, 3.0, 1.0, 1.0, 2.0, 1.0, 1.0, 7.0)  # known only here


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    return {
        k: (rng.normal(0, 0.08, s) if k.endswith("kernel") else np.zeros(s)).astype(np.float32) for k, s in MLP.items()
    }


def mlp(p, x):
    import jax.numpy as jnp

    return jnp.tanh(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]


def _ce(z, y):
    import jax

    return -(y * jax.nn.log_softmax(z)).sum(-1)


def _w(y):
    import jax.numpy as jnp

    return y @ jnp.asarray(CW, y.dtype)


def by_n(z, y):
    return _w(y) * _ce(z, y)


def by_sum(z, y):
    w = _w(y)
    return w * _ce(z, y) * (w.shape[0] / w.sum())


def summed(z, y):
    return _ce(z, y) * z.shape[0]


def _arm(name, loss, kind="jax"):
    role = "reference" if kind == "f64" else None
    return Arm(name, name, kind, name, loss_fn=loss, requires=("jax", "optax"), role=role)


HIDDEN = Workload(
    name="hidden-divisor",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=2, lr=0.1),
    model=Model(params=MLP, head="softmax", init=init, jax_apply=mlp, keras_build="unused:build"),
    arms=(_arm("a-by-sum", by_sum), _arm("a-summed", summed), _arm("reference-f64", by_n, "f64")),
    fix="reference-f64",
)


def _explain(a, b):
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import conventions, explain, localize

    w = HIDDEN
    x, y = data.window(data.load_mnist(), 0, 64, True, labels="onehot10")
    ctx = localize.Context(w, w.training.lr, 2, x, y, copy_weights(init(0), MLP), NumericsOptions(), n=64)
    rows = conventions.collect(w, w.arms, w.training.lr, NumericsOptions())
    return explain.explain_pair(ctx, w.arm(a), w.arm(b), rows, {}).to_dict()


def test_the_divisor_is_named_first_and_closes():
    p = _explain("a-by-sum", "reference-f64")
    assert p["parted"] is not None, p
    top = p["switches"][0]
    assert top["name"] == "weighted mean divisor" and top["closes"], p["switches"]
    assert top["ratio_after"] < 100 < top["ratio_before"]
    others = [s for s in p["switches"][1:] if s["refused"] is None and s["name"] != "forward pass"]
    assert all(not s["closes"] for s in others), p["switches"]


def test_a_sum_against_a_weighted_mean_is_not_closed_by_the_divisor():
    p = _explain("a-summed", "reference-f64")
    mine = next(s for s in p["switches"] if s["name"] == "weighted mean divisor")
    assert mine["refused"] and not mine["closes"], mine


def _target(other):
    from paritybench.switches import Target

    return Target(HIDDEN, other, {}, {}, 0.1, np.zeros((2, 784)), np.zeros((2, 10), np.float32), {})


def test_the_reader_reads_torch_weighted_ce_by_target_format_and_the_weights():
    import torch

    from paritybench.switches import weighted_divisor as wd

    loss = torch.nn.CrossEntropyLoss(weight=torch.tensor(CW))
    t = _target(HIDDEN.arm("reference-f64"))
    indices = wd._torch_reading(lambda z, y: loss(z, y.argmax(-1)), t)
    onehot = wd._torch_reading(lambda z, y: loss(z, y), t)
    assert indices.divisor == "sum(w)" and onehot.divisor == "n"
    np.testing.assert_allclose(indices.ratios, np.array(CW) / CW[0], rtol=1e-4)
    np.testing.assert_allclose(wd._class_weights(indices, onehot), CW, rtol=1e-4)


def test_a_torch_arm_switched_to_n_equals_the_one_hot_loss():
    import torch

    from paritybench.switches import weighted_divisor as wd

    loss = torch.nn.CrossEntropyLoss(weight=torch.tensor(CW))
    arm = Arm("t", "t", "torch", "t", torch_loss=lambda z, y: loss(z, y.argmax(-1)), requires=("torch",))
    switched = wd.SWITCH.apply(arm, _target(HIDDEN.arm("reference-f64")))
    z = torch.randn(32, 10, generator=torch.Generator().manual_seed(1))
    y = torch.nn.functional.one_hot(torch.arange(32) % 10, 10).float()
    assert float(switched.torch_loss(z, y)) == pytest.approx(float(loss(z, y)), rel=1e-5)
    assert abs(float(arm.torch_loss(z, y)) - float(loss(z, y))) > 1e-3
