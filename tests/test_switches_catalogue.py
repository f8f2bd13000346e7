"""issue 19 section 2, the catalogue's mechanisms without a switch before: the batch-norm variance estimator, the
momentum rule's learning-rate placement and the flatten order. Each pair below differs in one mechanism known only
to this test (the arms declare no conventions); ``explain`` must rank that mechanism's switch first and close the
gap with it, while no other narrow switch closes it. The readers are also held to torch arms, where they probe
the torch code."""

from __future__ import annotations

import numpy as np
import pytest

from paritybench.workloads import Arm, Data, Model, Training, Workload

from .explain_helpers import assert_named, explain

H = 8


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    shapes = {**MLP, **BN, **CONV}
    return {
        k: (rng.normal(0, 0.08, s) if k.endswith("kernel") else np.zeros(s)).astype(np.float32)
        for k, s in shapes.items()
    }


def ce(z, y):
    import jax

    return -(y * jax.nn.log_softmax(z)).sum(-1)


def _jax(name, **kw):
    return Arm(name, name, "jax", name, loss_fn=ce, requires=("jax", "optax"), **kw)


def _reference():
    return Arm("reference-f64", "float64", "f64", "ce-f64", loss_fn=ce, requires=("jax", "optax"), role="reference")


# --- momentum: the learning rate after the buffer (optax.sgd) vs before it (Keras), a drop at step 2 ----------

MLP = {"h/kernel": (784, 16), "h/bias": (16,), "out/kernel": (16, 10), "out/bias": (10,)}


def mlp(p, x):
    import jax.numpy as jnp

    return jnp.tanh(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]


def _schedule(lr):
    import optax

    return optax.exponential_decay(lr, transition_steps=2, decay_rate=0.25, staircase=True)


def lr_after(lr):
    import optax

    return optax.sgd(_schedule(lr), momentum=0.9)


def lr_before(lr):
    import optax

    return optax.chain(optax.scale_by_learning_rate(_schedule(lr)), optax.trace(decay=0.9))


def constant_lr(lr):
    import optax

    return optax.sgd(lr, momentum=0.9)


def nesterov(lr):
    import optax

    return optax.sgd(_schedule(lr), momentum=0.9, nesterov=True)


MOMENTUM = Workload(
    name="hidden-momentum",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=4, lr=0.1),
    model=Model(params=MLP, head="softmax", init=init, jax_apply=mlp, keras_build="unused:build"),
    arms=(
        _jax("a-after", optimizer=lr_after),
        _jax("b-before", optimizer=lr_before),
        _jax("c-nesterov", optimizer=nesterov),
        _reference(),
    ),
    fix="b-before",
)


def test_momentum_placement_is_named_and_closes():
    assert_named(explain(MOMENTUM, "a-after", "b-before", 64, 4), "momentum learning-rate placement")


def test_momentum_reader_reads_each_rule_and_a_nesterov_arms_placement():
    from paritybench.switches import Refusal, Target, momentum_lr

    t = Target(MOMENTUM, MOMENTUM.arm("b-before"), {}, {}, 0.1, np.zeros((2, 784)), np.zeros((2, 10)), {})
    for arm, rule in (("a-after", momentum_lr.AFTER), ("b-before", momentum_lr.BEFORE)):
        got, m, lrs = momentum_lr.read(MOMENTUM.arm(arm), t)
        assert got == rule and m == pytest.approx(0.9, rel=1e-5)
        np.testing.assert_allclose(lrs, [0.1, 0.1, 0.025, 0.025], rtol=1e-6)
    assert momentum_lr.read(MOMENTUM.arm("c-nesterov"), t)[0] == momentum_lr.AFTER  # Nesterov read too (nesterov.py)
    constant = _jax("d-constant", optimizer=constant_lr)  # both rules give the same updates: nothing to switch
    assert momentum_lr.read(constant, t)[0] == momentum_lr.EITHER
    with pytest.raises(Refusal, match="nothing to change: d-constant's updates are alike either way"):
        momentum_lr.SWITCH.apply(constant, t)


def torch_sgd_step(params, lr):
    import torch

    class StepSGD(torch.optim.SGD):
        def __init__(self, ps):
            super().__init__(ps, lr=lr, momentum=0.9, foreach=False)
            self.sched = torch.optim.lr_scheduler.StepLR(self, step_size=2, gamma=0.25)

        def step(self, closure=None):
            super().step(closure)
            self.sched.step()

    return StepSGD(list(params.values()))


def test_momentum_reader_reads_torch_sgd_and_its_switched_optimizer_follows_the_other_rule():
    import torch

    from paritybench.switches import Target, momentum_lr

    arm = Arm("t-sgd", "t", "torch", "t", torch_optimizer=torch_sgd_step, requires=("torch",))
    t = Target(MOMENTUM, MOMENTUM.arm("b-before"), {}, {}, 0.1, np.zeros((2, 784)), np.zeros((2, 10)), {})
    rule, m, lrs = momentum_lr.read(arm, t)
    assert rule == momentum_lr.AFTER and m == pytest.approx(0.9, rel=1e-5)
    np.testing.assert_allclose(lrs, [0.1, 0.1, 0.025, 0.025], rtol=1e-6)
    switched = momentum_lr.SWITCH.apply(arm, t)
    assert momentum_lr.read(switched, t)[0] == momentum_lr.BEFORE
    p = torch.zeros(1, requires_grad=True)
    opt = switched.torch_optimizer({"p": p}, 0.1)
    for _ in range(3):  # v = 0.9 v - lr_k g at g = 1: -0.1, -0.19, -0.196
        p.grad = torch.ones(1)
        opt.step()
    assert float(p.detach()) == pytest.approx(-(0.1 + 0.19 + 0.196), rel=1e-6)


# --- batch norm: the moving variance unbiased (x n/(n-1), torch) vs biased (Keras) -------------------------------

BN = {"d/kernel": (784, H), "d/bias": (H,), "bn/gamma": (H,), "bn/beta": (H,), "o/kernel": (H, 10), "o/bias": (10,)}
BN_STATE = {"bn/mean": (H,), "bn/var": (H,)}


def _bn(p, x, state, training, unbiased):
    import jax.numpy as jnp

    state = state if state is not None else {"bn/mean": jnp.zeros(H, x.dtype), "bn/var": jnp.ones(H, x.dtype)}
    h = x @ p["d/kernel"] + p["d/bias"]
    if training:
        mean, var = h.mean(0), h.var(0)
        n = h.shape[0]
        new = {
            "bn/mean": 0.9 * state["bn/mean"] + 0.1 * mean,
            "bn/var": 0.9 * state["bn/var"] + 0.1 * (var * n / (n - 1) if unbiased else var),
        }
    else:
        mean, var, new = state["bn/mean"], state["bn/var"], state
    h = (h - mean) / jnp.sqrt(var + 1e-3) * p["bn/gamma"] + p["bn/beta"]
    return jnp.maximum(h, 0) @ p["o/kernel"] + p["o/bias"], new


def bn_biased(p, x, state=None, training=True):
    return _bn(p, x, state, training, False)


def bn_unbiased(p, x, state=None, training=True):
    return _bn(p, x, state, training, True)


def bn_torch(p, x, state=None, training=True):
    """torch's own F.batch_norm: its running variance takes the unbiased batch variance."""
    import torch
    import torch.nn.functional as F

    state = state or {"bn/mean": torch.zeros(H), "bn/var": torch.ones(H)}
    mean, var = state["bn/mean"].clone(), state["bn/var"].clone()
    h = x @ p["d/kernel"] + p["d/bias"]
    h = F.batch_norm(h, mean, var, p["bn/gamma"], p["bn/beta"], training=training, momentum=0.1, eps=1e-3)
    return torch.relu(h) @ p["o/kernel"] + p["o/bias"], {"bn/mean": mean, "bn/var": var}


def _bn_init(seed, threefry_partitionable=False):
    w = {k: v for k, v in init(seed).items() if k in BN}
    return {**w, "bn/gamma": np.ones(H, np.float32)}


BATCHNORM = Workload(
    name="hidden-bn",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=32, normalize=True, batch_size=8),
    training=Training(steps=2, lr=0.1),
    model=Model(
        params=BN,
        head="softmax",
        init=_bn_init,
        jax_apply=bn_biased,
        keras_build="unused:build",
        state=BN_STATE,
        state_init={"bn/var": 1.0},
        torch_apply=bn_torch,
    ),
    arms=(_jax("a-unbiased", jax_apply=bn_unbiased), _jax("b-biased"), _reference()),
    fix="b-biased",
)


def test_batchnorm_variance_estimator_is_named_and_closes():
    assert_named(explain(BATCHNORM, "a-unbiased", "reference-f64", 32, 2), "batchnorm variance estimator")


def test_batchnorm_variance_reader_reads_torch_and_the_switched_torch_arm_averages_the_biased_variance():
    import torch

    from paritybench.experiment import data
    from paritybench.switches import Refusal, Target, bn_variance

    x = data.window(data.load_mnist(), 0, 8, True, labels="onehot10")[0]
    w = {**init(0), "bn/gamma": np.ones(H, np.float32)}
    w = {k: v for k, v in w.items() if k in BN}
    state = BATCHNORM.model.initial_state()
    arm = Arm("t-bn", "t", "torch", "t", requires=("torch",))
    t = Target(BATCHNORM, BATCHNORM.arm("b-biased"), {}, {}, 0.1, x, np.zeros((8, 10)), w, state)
    switched = bn_variance.SWITCH.apply(arm, t)  # torch's unbiased running variance -> the biased one
    params = {k: torch.tensor(v) for k, v in w.items()}
    _, new = switched.torch_apply(params, torch.tensor(x), None, True)
    _, want = bn_biased({k: np.asarray(v) for k, v in w.items()}, x)
    np.testing.assert_allclose(new["bn/var"].numpy(), np.asarray(want["bn/var"]), rtol=1e-5)
    np.testing.assert_allclose(new["bn/mean"].numpy(), np.asarray(want["bn/mean"]), rtol=1e-5, atol=1e-7)
    with pytest.raises(Refusal, match="nothing to change"):  # the reference averages the biased one too
        bn_variance.SWITCH.apply(BATCHNORM.arm("b-biased"), t)


# --- flatten: a Dense meeting a conv's features in (c, h, w) order vs (h, w, c) ----------------------------------

CONV = {"c/kernel": (3, 3, 1, 2), "c/bias": (2,), "f/kernel": (98, 10), "f/bias": (10,)}


def _conv(p, x):
    import jax
    from jax import lax

    images = x.reshape(-1, 28, 28, 1)
    out = lax.conv_general_dilated(images, p["c/kernel"], (4, 4), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.relu(out + p["c/bias"])  # (n, 7, 7, 2)


def _hwc(f):
    return f.reshape(f.shape[0], -1)


def _chw(f):
    import jax.numpy as jnp

    return jnp.transpose(f, (0, 3, 1, 2)).reshape(f.shape[0], -1)


def conv_hwc(p, x):
    return _hwc(_conv(p, x)) @ p["f/kernel"] + p["f/bias"]


def conv_chw(p, x):
    return _chw(_conv(p, x)) @ p["f/kernel"] + p["f/bias"]


def layers_hwc(p, x):
    f = _conv(p, x)
    return {"conv": f, "flatten": _hwc(f)}


def layers_chw(p, x):
    f = _conv(p, x)
    return {"conv": f, "flatten": _chw(f)}


def _conv_init(seed, threefry_partitionable=False):
    return {k: v for k, v in init(seed).items() if k in CONV}


FLATTEN = Workload(
    name="hidden-flatten",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=2, lr=0.1),
    model=Model(
        params=CONV,
        head="softmax",
        init=_conv_init,
        jax_apply=conv_hwc,
        jax_layers=layers_hwc,
        keras_build="unused:build",
    ),
    arms=(_jax("a-chw", jax_apply=conv_chw, jax_layers=layers_chw), _jax("b-hwc"), _reference()),
    fix="b-hwc",
)


def test_flatten_order_is_named_and_closes():
    assert_named(explain(FLATTEN, "a-chw", "reference-f64", 64, 2), "flatten order")


def test_flatten_order_reader_finds_the_channels_first_permutation_and_refuses_equal_orders():
    from paritybench.adapters import layouts
    from paritybench.experiment import data
    from paritybench.switches import Refusal, Target, flatten_order

    x = data.window(data.load_mnist(), 0, 16, True, labels="onehot10")[0]
    t = Target(FLATTEN, FLATTEN.arm("b-hwc"), {}, {}, 0.1, x, np.zeros((16, 10)), _conv_init(0))
    layer, kernel, q = flatten_order.read(FLATTEN.arm("a-chw"), t)
    assert (layer, kernel) == ("flatten", "f/kernel")
    # the rows it reorders are the ones the layout adapter's channels-first transform moves
    k = np.arange(98 * 10, dtype=np.float64).reshape(98, 10)
    moved = layouts.TRANSFORMS["flatten_to_channels_first"].fn([k], (7, 7, 2), (10, 98))
    np.testing.assert_array_equal(k[q], moved.T)
    with pytest.raises(Refusal, match="flatten orders agree"):
        flatten_order.read(FLATTEN.arm("b-hwc"), t)


# --- average pooling: SAME's (0, 1) border divided by 9 or by the real cells, torch's padding=1 -------------------

POOL = {"p/kernel": (3, 3, 1, 2), "p/bias": (2,), "q/kernel": (32, 10), "q/bias": (10,)}


def _pool_features(p, x):
    import jax
    from jax import lax

    images = x.reshape(-1, 28, 28, 1)[:, 9:19, 9:19, :]
    out = lax.conv_general_dilated(images, p["p/kernel"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.relu(out + p["p/bias"])  # (n, 8, 8, 2): SAME pools it to 4 x 4 with padding (0, 1)


def _sums(f, padding):
    from jax import lax

    return lax.reduce_window(f, 0.0, lax.add, (1, 3, 3, 1), (1, 2, 2, 1), padding)


def pool_exclude(f):
    import jax.numpy as jnp

    return _sums(f, "SAME") / _sums(jnp.ones((1, 8, 8, 1), f.dtype), "SAME")


def pool_include(f):
    return _sums(f, "SAME") / 9.0


def _pool_head(p, pooled):
    return pooled.reshape(pooled.shape[0], -1) @ p["q/kernel"] + p["q/bias"]


def pool_apply(p, x):
    return _pool_head(p, pool_exclude(_pool_features(p, x)))


def pool_apply_include(p, x):
    return _pool_head(p, pool_include(_pool_features(p, x)))


def pool_layers(p, x):
    f = _pool_features(p, x)
    return {"conv/relu": f, "pool": pool_exclude(f)}


def pool_layers_include(p, x):
    f = _pool_features(p, x)
    return {"conv/relu": f, "pool": pool_include(f)}


def pool_torch(p, x):
    """torch's nn.AvgPool2d(3, 2, padding=1) after the same convolution, channels first."""
    import torch
    import torch.nn.functional as F

    images = x.reshape(-1, 1, 28, 28)[:, :, 9:19, 9:19]
    f = torch.relu(F.conv2d(images, p["p/kernel"].permute(3, 2, 0, 1)) + p["p/bias"][:, None, None])
    pooled = F.avg_pool2d(f, 3, stride=2, padding=1)
    return pooled.permute(0, 2, 3, 1).reshape(pooled.shape[0], -1) @ p["q/kernel"] + p["q/bias"]


def _pool_init(seed, threefry_partitionable=False):
    return {k: np.random.default_rng(seed).normal(0, 0.2, s).astype(np.float32) for k, s in POOL.items()}


POOLING = Workload(
    name="hidden-pool",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=2, lr=0.1),
    model=Model(
        params=POOL,
        head="softmax",
        init=_pool_init,
        jax_apply=pool_apply,
        jax_layers=pool_layers,
        keras_build="unused:build",
        torch_apply=pool_torch,
    ),
    arms=(
        _jax("a-include", jax_apply=pool_apply_include, jax_layers=pool_layers_include),
        _jax("b-exclude"),
        _reference(),
    ),
    fix="b-exclude",
)


def test_pool_padding_is_named_and_closes():
    assert_named(explain(POOLING, "a-include", "reference-f64", 64, 2), "pool padding")


def test_pool_reader_reads_torch_padding_1_and_the_switched_torch_arm_pools_as_the_reference():
    import torch

    from paritybench.experiment import data
    from paritybench.switches import Refusal, Target, pool_padding

    x = data.window(data.load_mnist(), 0, 16, True, labels="onehot10")[0]
    w = _pool_init(0)
    t = Target(POOLING, POOLING.arm("reference-f64"), {}, {}, 0.1, x, np.zeros((16, 10)), w)
    arm = Arm("t-pad1", "t", "torch", "t", requires=("torch",))
    assert pool_padding.read(arm, t) == pool_padding.Pool((3, 3), (2, 2), ((1, 1), (1, 1)), "whole window", (8, 8))
    ref = pool_padding.read(POOLING.arm("reference-f64"), t)
    assert (ref.pads, ref.divisor) == (((0, 1), (0, 1)), "count of real cells")
    switched = pool_padding.SWITCH.apply(arm, t)
    with torch.no_grad():
        got = switched.torch_apply({k: torch.tensor(v) for k, v in w.items()}, torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, np.asarray(pool_apply(w, x)), rtol=1e-4, atol=1e-5)
    with pytest.raises(Refusal, match="divides by its own counts"):  # the reference's own counts: not switched
        pool_padding.SWITCH.apply(POOLING.arm("b-exclude"), replace_other(t, POOLING.arm("a-include")))


def replace_other(t, other):
    from dataclasses import replace

    return replace(t, other=other)


# --- convolution padding: SAME's (0, 1) at stride 2 on 28 vs torch's padding=1 ----------------------------------

CONVPAD = {"k/kernel": (3, 3, 1, 2), "k/bias": (2,), "l/kernel": (392, 10), "l/bias": (10,)}


def _strided(p, x, padding):
    import jax
    from jax import lax

    images = x.reshape(-1, 28, 28, 1)
    out = lax.conv_general_dilated(images, p["k/kernel"], (2, 2), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.relu(out + p["k/bias"])  # (n, 14, 14, 2) either way


def convpad_same(p, x):
    return _strided(p, x, "SAME").reshape(x.shape[0], -1) @ p["l/kernel"] + p["l/bias"]


def convpad_one(p, x):
    return _strided(p, x, ((1, 1), (1, 1))).reshape(x.shape[0], -1) @ p["l/kernel"] + p["l/bias"]


def convpad_layers_same(p, x):
    return {"conv": _strided(p, x, "SAME")}


def convpad_layers_one(p, x):
    return {"conv": _strided(p, x, ((1, 1), (1, 1)))}


def convpad_torch(p, x):
    """``nn.Conv2d(1, 2, 3, stride=2, padding=1)``, channels first, flattened back in (h, w, c) order."""
    import torch
    import torch.nn.functional as F

    f = torch.relu(F.conv2d(x.reshape(-1, 1, 28, 28), p["k/kernel"].permute(3, 2, 0, 1), p["k/bias"], 2, 1))
    return f.permute(0, 2, 3, 1).reshape(x.shape[0], -1) @ p["l/kernel"] + p["l/bias"]


def _convpad_init(seed, threefry_partitionable=False):
    return {k: np.random.default_rng(seed).normal(0, 0.2, s).astype(np.float32) for k, s in CONVPAD.items()}


CONV_PADDING = Workload(
    name="hidden-conv-padding",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=2, lr=0.1),
    model=Model(
        params=CONVPAD,
        head="softmax",
        init=_convpad_init,
        jax_apply=convpad_same,
        jax_layers=convpad_layers_same,
        keras_build="unused:build",
        torch_apply=convpad_torch,
    ),
    arms=(_jax("a-pad1", jax_apply=convpad_one, jax_layers=convpad_layers_one), _jax("b-same"), _reference()),
    fix="b-same",
)


def test_conv_padding_is_named_and_closes():
    assert_named(explain(CONV_PADDING, "a-pad1", "reference-f64", 64, 2), "conv padding")


def test_conv_padding_reader_reads_torch_padding_1_and_the_switched_torch_arm_convolves_as_the_reference():
    import torch

    from paritybench.experiment import data
    from paritybench.switches import Refusal, Target, conv_padding

    x = data.window(data.load_mnist(), 0, 16, True, labels="onehot10")[0]
    w = _convpad_init(0)
    t = Target(CONV_PADDING, CONV_PADDING.arm("reference-f64"), {}, {}, 0.1, x, np.zeros((16, 10)), w)
    arm = Arm("t-pad1", "t", "torch", "t", requires=("torch",))
    assert conv_padding.read(arm, t) == (((1, 1), (1, 1)), (28, 28))
    assert conv_padding.read(CONV_PADDING.arm("reference-f64"), t) == (((0, 1), (0, 1)), (28, 28))
    switched = conv_padding.SWITCH.apply(arm, t)
    with torch.no_grad():
        got = switched.torch_apply({k: torch.tensor(v) for k, v in w.items()}, torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, np.asarray(convpad_same(w, x)), rtol=1e-4, atol=1e-5)
    with pytest.raises(Refusal, match="nothing to change"):
        conv_padding.SWITCH.apply(CONV_PADDING.arm("b-same"), t)
