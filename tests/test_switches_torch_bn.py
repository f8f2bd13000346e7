"""issue 19 section 2: the batch-norm switches on torch arms. Each pair differs in what its torch forward pass
passes ``F.batch_norm`` (momentum, epsilon), known only to this test (the arms declare no conventions): explain
must name the switch that changes it and close the gap with it; where a torch arm differs from a Keras-style JAX
arm in momentum, epsilon and variance estimator at once (batchnorm-momentum's ``torch-bn``), the three together
close it."""

from __future__ import annotations

import numpy as np
import pytest

from paritybench.workloads import Arm, Data, Model, Training, Workload

H = 8
BN = {"d/kernel": (784, H), "d/bias": (H,), "bn/gamma": (H,), "bn/beta": (H,), "o/kernel": (H, 10), "o/bias": (10,)}
STATE = {"bn/mean": (H,), "bn/var": (H,)}


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    w = {k: (rng.normal(0, 0.08, s) if k.endswith("kernel") else np.zeros(s)).astype(np.float32) for k, s in BN.items()}
    return {**w, "bn/gamma": np.ones(H, np.float32)}


def ce(z, y):
    import jax

    return -(y * jax.nn.log_softmax(z)).sum(-1)


def _keras_bn(p, x, state, training, keep, unbiased, eps):
    import jax.numpy as jnp

    state = state if state is not None else {"bn/mean": jnp.zeros(H, x.dtype), "bn/var": jnp.ones(H, x.dtype)}
    h = x @ p["d/kernel"] + p["d/bias"]
    if training:
        mean, var = h.mean(0), h.var(0)
        n = h.shape[0]
        new = {
            "bn/mean": keep * state["bn/mean"] + (1 - keep) * mean,
            "bn/var": keep * state["bn/var"] + (1 - keep) * (var * n / (n - 1) if unbiased else var),
        }
    else:
        mean, var, new = state["bn/mean"], state["bn/var"], state
    h = (h - mean) / jnp.sqrt(var + eps) * p["bn/gamma"] + p["bn/beta"]
    return jnp.maximum(h, 0) @ p["o/kernel"] + p["o/bias"], new


def jax_keep09(p, x, state=None, training=True):
    """torch's rule written in JAX: keeps 0.9, unbiased moving variance, epsilon 1e-3."""
    return _keras_bn(p, x, state, training, 0.9, True, 1e-3)


def jax_keras(p, x, state=None, training=True):
    """Keras's rule: keeps 0.99, biased moving variance, epsilon 1e-3."""
    return _keras_bn(p, x, state, training, 0.99, False, 1e-3)


def _torch_bn(p, x, state, training, momentum, eps):
    import torch
    import torch.nn.functional as F

    state = state or {"bn/mean": torch.zeros(H), "bn/var": torch.ones(H)}
    mean, var = state["bn/mean"].clone(), state["bn/var"].clone()
    h = x @ p["d/kernel"] + p["d/bias"]
    h = F.batch_norm(h, mean, var, p["bn/gamma"], p["bn/beta"], training=training, momentum=momentum, eps=eps)
    return torch.relu(h) @ p["o/kernel"] + p["o/bias"], {"bn/mean": mean, "bn/var": var}


def torch_m01(p, x, state=None, training=True):
    return _torch_bn(p, x, state, training, 0.1, 1e-3)


def torch_m05(p, x, state=None, training=True):
    return _torch_bn(p, x, state, training, 0.5, 1e-3)


def torch_eps5(p, x, state=None, training=True):
    return _torch_bn(p, x, state, training, 0.1, 1e-5)


def torch_defaults(p, x, state=None, training=True):
    """torch's defaults: momentum 0.1 (keeps 0.9), epsilon 1e-5, unbiased running variance."""
    return _torch_bn(p, x, state, training, 0.1, 1e-5)


def torch_module(p, x, state=None, training=True):
    """An ``nn.BatchNorm1d(momentum=0.3, eps=1e-4)``: its forward calls F.batch_norm with them."""
    import torch

    bn = torch.nn.BatchNorm1d(H, momentum=0.3, eps=1e-4)
    with torch.no_grad():
        bn.weight.copy_(p["bn/gamma"])
        bn.bias.copy_(p["bn/beta"])
    bn.train(training)
    h = bn(x @ p["d/kernel"] + p["d/bias"])
    return torch.relu(h) @ p["o/kernel"] + p["o/bias"], {"bn/mean": bn.running_mean, "bn/var": bn.running_var}


def _torch(name, apply, **kw):
    return Arm(
        name,
        name,
        "torch",
        name,
        torch_apply=apply,
        torch_loss="paritybench.workloads.kit.torch:ce_logits",
        requires=("torch",),
        **kw,
    )


def _jax(name, apply, **kw):
    return Arm(name, name, "jax", name, loss_fn=ce, jax_apply=apply, requires=("jax", "optax"), **kw)


WORKLOAD = Workload(
    name="hidden-torch-bn",
    version="1",
    question="Which mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=32, normalize=True, batch_size=8),
    training=Training(steps=2, lr=0.1),
    model=Model(
        params=BN,
        head="softmax",
        init=init,
        jax_apply=jax_keras,
        keras_build="unused:build",
        state=STATE,
        state_init={"bn/var": 1.0},
        torch_apply=torch_m01,
    ),
    arms=(
        _torch("t-m01", torch_m01),
        _torch("t-m05", torch_m05),
        _torch("t-eps5", torch_eps5),
        _torch("t-defaults", torch_defaults),
        _torch("t-module", torch_module),
        _jax("j-keep09", jax_keep09),
        # Keras's epsilon is a number in its arithmetic: the arm states it, as batchnorm-momentum's arms do
        Arm(
            "reference-f64",
            "float64",
            "f64",
            "ce-f64",
            loss_fn=ce,
            requires=("jax", "optax"),
            role="reference",
            conventions={"epsilon": 1e-3},
        ),
    ),
    fix="reference-f64",
)


def _setting(steps=2):
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import conventions, localize

    x, y = data.window(data.load_mnist(), 0, 32, True, labels="onehot10")
    weights = copy_weights(init(0), BN)
    ctx = localize.Context(WORKLOAD, 0.1, steps, x, y, weights, NumericsOptions(), n=32)
    return ctx, conventions.collect(WORKLOAD, WORKLOAD.arms, 0.1, NumericsOptions())


def _explain(a, b):
    from paritybench.pipeline import explain

    ctx, rows = _setting()
    return explain.explain_pair(ctx, WORKLOAD.arm(a), WORKLOAD.arm(b), rows, {}).to_dict()


def _target(other):
    from paritybench.experiment import data
    from paritybench.switches import Target

    x, y = data.window(data.load_mnist(), 0, 8, True, labels="onehot10")
    return Target(WORKLOAD, WORKLOAD.arm(other), {}, {}, 0.1, x, y, init(0), WORKLOAD.model.initial_state())


def _named(p, switch):
    assert p["parted"] is not None, p
    top = p["switches"][0]
    assert top["name"] == switch and top["closes"], p["switches"]
    assert top["ratio_after"] < 100 and (p["parted"]["ratio"] is None or p["parted"]["ratio"] > 100)
    others = [s for s in p["switches"][1:] if s["refused"] is None and s["name"] != "forward pass"]
    assert all(not s["closes"] for s in others), p["switches"]


def test_torch_batch_norm_calls_are_read_from_functional_and_module_forward_passes():
    from paritybench.switches import bn_calls, bn_momentum

    t = _target("j-keep09")
    assert bn_calls.record(WORKLOAD.arm("t-m05"), t) == [{"training": True, "momentum": 0.5, "eps": 1e-3}]
    assert bn_calls.record(WORKLOAD.arm("t-module"), t) == [{"training": True, "momentum": 0.3, "eps": 1e-4}]
    # the keep factor read from the calls is the one the torch arm's state update follows (probed as for JAX)
    assert bn_momentum.keep_of(WORKLOAD.arm("t-m05"), t) == 0.5
    assert bn_momentum.keep_of(WORKLOAD.arm("t-module"), t) == pytest.approx(0.7)
    assert bn_momentum.keep_of(WORKLOAD.arm("j-keep09"), t) == pytest.approx(0.9, abs=1e-5)
    assert bn_momentum.keep_of(WORKLOAD.arm("reference-f64"), t) == pytest.approx(0.99, abs=1e-5)


def test_switched_torch_arm_updates_its_running_statistics_with_the_other_keep_factor():
    import torch

    from paritybench.switches import Refusal, bn_calls, bn_momentum

    t = _target("j-keep09")
    switched = bn_momentum.SWITCH.apply(WORKLOAD.arm("t-m05"), t)
    assert bn_calls.record(switched, t)[0]["momentum"] == pytest.approx(0.1)
    w = init(0)
    x = np.asarray(t.x, np.float32)
    _, got = switched.torch_apply({k: torch.tensor(v) for k, v in w.items()}, torch.tensor(x), None, True)
    _, want = jax_keep09(w, x)  # keeps 0.9, unbiased: torch's running variance with momentum 0.1
    for k in ("bn/mean", "bn/var"):
        np.testing.assert_allclose(got[k].numpy(), np.asarray(want[k]), rtol=1e-5, atol=1e-7)
    with pytest.raises(Refusal, match="nothing to change: both keep 0.9"):
        bn_momentum.SWITCH.apply(WORKLOAD.arm("t-m01"), t)


def test_torch_batchnorm_momentum_is_named_and_closes():
    _named(_explain("t-m05", "j-keep09"), "batchnorm momentum")


def test_torch_batchnorm_epsilon_is_named_and_closes():
    p = _explain("t-eps5", "t-m01")
    _named(p, "batchnorm epsilon")
    assert p["parted"]["phase"] == "forward"


def test_epsilon_of_a_jax_arm_is_its_row_and_a_jax_arm_is_not_switched():
    from paritybench.switches import Refusal, Target, bn_calls, bn_epsilon

    t = _target("reference-f64")
    with pytest.raises(Refusal, match="no epsilon row"):
        bn_epsilon.SWITCH.apply(WORKLOAD.arm("t-eps5"), t)
    rows = Target(**{**t.__dict__, "rows_other": {"declared: epsilon": "0.001"}})
    switched = bn_epsilon.SWITCH.apply(WORKLOAD.arm("t-eps5"), rows)
    assert bn_calls.record(switched, t)[0]["eps"] == 1e-3
    with pytest.raises(Refusal, match="inside its own arithmetic"):
        bn_epsilon.SWITCH.apply(WORKLOAD.arm("j-keep09"), rows)


def test_torch_defaults_against_keras_close_with_momentum_epsilon_and_variance_together():
    p = _explain("t-defaults", "reference-f64")
    assert p["parted"] is not None and not any(s["closes"] for s in p["switches"]), p["switches"]
    c = p["combination"]
    assert c is not None and c["closes"], p
    assert sorted(c["names"]) == ["batchnorm epsilon", "batchnorm momentum", "batchnorm variance estimator"]
