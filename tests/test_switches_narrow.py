"""issue 19 sections 2 and 3: the narrow switches for mechanisms only the broad forward-pass switch (or nothing)
closed before: dropout's rate and dropout at evaluation. Each pair below differs in one mechanism known only to
this test (the arms declare no conventions); ``explain`` must rank that mechanism's switch first and close the gap
with it, while no other narrow switch closes it. The readers are also held to torch arms (``F.dropout``)."""

from __future__ import annotations

import numpy as np
import pytest

from paritybench.workloads import Arm, Data, Model, Training, Workload

from .explain_helpers import assert_named, explain

H = 16
MLP = {"h/kernel": (784, H), "h/bias": (H,), "out/kernel": (H, 10), "out/bias": (10,)}


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    return {
        k: (rng.normal(0, 0.08, s) if k.endswith("kernel") else np.zeros(s)).astype(np.float32) for k, s in MLP.items()
    }


def ce(z, y):
    import jax

    return -(y * jax.nn.log_softmax(z)).sum(-1)


def _jax(name, **kw):
    return Arm(name, name, "jax", name, loss_fn=ce, requires=("jax", "optax"), **kw)


def _reference():
    return Arm("reference-f64", "float64", "f64", "ce-f64", loss_fn=ce, requires=("jax", "optax"), role="reference")


def _target(w, other, n=16):
    from paritybench.experiment import data
    from paritybench.switches import Target

    x = data.window(data.load_mnist(), 0, n, True, labels="onehot10")[0]
    return Target(w, w.arm(other), {}, {}, 0.1, x, np.zeros((n, 10)), init(0), w.model.initial_state())


# --- dropout: stax's keep-probability rate, dropout left on at evaluation ----------------------------------------

SEED = 3


def _key(state):
    import jax.numpy as jnp

    return jnp.asarray(state["drop/seed"]).astype(jnp.uint32)


def _net(p, x, state, training, drop):
    """tanh MLP with ``drop(h, key)`` after the hidden layer where ``training`` (``drop`` returns h where None);
    the key is the state [SEED, k], advanced once per training call."""
    import jax.numpy as jnp

    h = jnp.tanh(x @ p["h/kernel"] + p["h/bias"])
    h = drop(h, _key(state), training)
    new = {"drop/seed": state["drop/seed"] + jnp.asarray([0, 1], state["drop/seed"].dtype)} if training else state
    return h @ p["out/kernel"] + p["out/bias"], new


def _inverted(keep, at_eval=False, select=False):
    def drop(h, key, training):
        import jax
        import jax.numpy as jnp

        if not (training or at_eval):
            return h
        mask = jax.random.bernoulli(key, p=jnp.float32(keep), shape=h.shape)
        if select:
            return jax.lax.select(mask, h / keep, jnp.zeros_like(h))
        return jnp.where(mask, h / keep, 0)

    return drop


def keras_drop(p, x, state, training=True):
    """Keras's Dropout(0.25): keep 0.75, x 1/0.75, off at evaluation."""
    return _net(p, x, state, training, _inverted(0.75))


def stax_drop(p, x, state, training=True):
    """``jax.example_libraries.stax.Dropout(0.25)`` itself, given Keras's rate: stax's rate is the keep share."""
    from jax.example_libraries import stax

    _, drop = stax.Dropout(0.25, mode="train")
    return _net(p, x, state, training, lambda h, key, tr: drop((), h, rng=key) if tr else h)


def select_drop(p, x, state, training=True):
    """keep 0.25 applied with lax.select (flax's and Keras-JAX's form)."""
    return _net(p, x, state, training, _inverted(0.25, select=True))


def eval_drop(p, x, state, training=True):
    """Keras's rate and scale, dropout on at evaluation too."""
    return _net(p, x, state, training, _inverted(0.75, at_eval=True))


def mul_drop(p, x, state, training=True):
    """keep 0.25, the mask multiplied in (no where / select to switch)."""

    def drop(h, key, tr):
        import jax

        return h * jax.random.bernoulli(key, p=0.25, shape=h.shape) / 0.25 if tr else h

    return _net(p, x, state, training, drop)


def torch_drop(p, x, state=None, training=True):
    """torch's F.dropout with p = 0.25 (keep 0.75)."""
    import torch
    import torch.nn.functional as F

    h = F.dropout(torch.tanh(x @ p["h/kernel"] + p["h/bias"]), 0.25, training)
    return h @ p["out/kernel"] + p["out/bias"], state


def torch_drop_at_eval(p, x, state=None, training=True):
    """F.dropout called with training=True at evaluation too (the flag not passed on)."""
    import torch
    import torch.nn.functional as F

    h = F.dropout(torch.tanh(x @ p["h/kernel"] + p["h/bias"]), 0.25, True)
    return h @ p["out/kernel"] + p["out/bias"], state


DROPOUT = Workload(
    name="hidden-dropout",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=32, normalize=True, holdout=32),
    training=Training(steps=2, lr=0.1),
    model=Model(
        params=MLP,
        head="softmax",
        init=init,
        jax_apply=keras_drop,
        keras_build="unused:build",
        state={"drop/seed": (2,)},
        state_init={"drop/seed": (float(SEED), 0.0)},
    ),
    arms=(
        _jax("a-stax", jax_apply=stax_drop),
        _jax("b-select", jax_apply=select_drop),
        _jax("c-eval", jax_apply=eval_drop),
        _jax("d-mul", jax_apply=mul_drop),
        _jax("e-keras"),
        _reference(),
    ),
    fix="e-keras",
)


def test_dropout_rate_of_stax_is_named_and_closes():
    assert_named(explain(DROPOUT, "a-stax", "reference-f64", 32, 2, holdout=True), "dropout rate")


def test_dropout_at_evaluation_is_named_and_closes():
    p = explain(DROPOUT, "c-eval", "reference-f64", 32, 2, holdout=True)
    assert p["parted"]["phase"] == "evaluation", p["parted"]
    assert_named(p, "dropout at evaluation")


def test_dropout_readers_read_jax_draws_and_a_select_or_multiplied_mask():
    from paritybench.switches import Refusal, dropout, dropout_at_eval, dropout_rate

    t = _target(DROPOUT, "e-keras")
    keep = {a: dropout.read(DROPOUT.arm(a), "jax", t, training=True) for a in ("a-stax", "b-select", "e-keras")}
    assert keep == {"a-stax": [0.25], "b-select": [0.25], "e-keras": [0.75]}
    assert dropout.read(DROPOUT.arm("c-eval"), "jax", t, training=False) == [0.75]
    assert dropout.read(DROPOUT.arm("e-keras"), "jax", t, training=False) == []
    # the switched select arm draws e-keras's very mask and scale: the same logits
    import jax.numpy as jnp

    switched = dropout_rate.SWITCH.apply(DROPOUT.arm("b-select"), t)
    p = {k: jnp.asarray(v) for k, v in init(0).items()}
    state = {k: jnp.asarray(v) for k, v in DROPOUT.model.initial_state().items()}
    x = jnp.asarray(t.x[:8])
    np.testing.assert_allclose(switched.jax_apply(p, x, state, True)[0], keras_drop(p, x, state, True)[0], rtol=1e-6)
    with pytest.raises(Refusal, match="other than by jnp.where / lax.select"):
        dropout_rate.SWITCH.apply(DROPOUT.arm("d-mul"), t)
    with pytest.raises(Refusal, match="nothing to change: both keep 0.75"):
        dropout_rate.SWITCH.apply(DROPOUT.arm("c-eval"), t)
    with pytest.raises(Refusal, match="nothing to change: both drop no units at evaluation"):
        dropout_at_eval.SWITCH.apply(DROPOUT.arm("a-stax"), t)
    with pytest.raises(Refusal, match="switching dropout on there is not offered"):
        dropout_at_eval.SWITCH.apply(DROPOUT.arm("e-keras"), _target(DROPOUT, "c-eval"))


def test_dropout_readers_read_torch_f_dropout_and_switch_it_off_at_evaluation():
    import torch

    from paritybench.switches import dropout, dropout_at_eval, dropout_rate

    t = _target(DROPOUT, "e-keras")
    arm = Arm("t-drop", "t", "torch", "t", torch_apply=torch_drop, requires=("torch",))
    at_eval = Arm("t-eval", "t", "torch", "t", torch_apply=torch_drop_at_eval, requires=("torch",))
    assert dropout.read(arm, "torch", t, training=True) == [0.75]
    assert dropout.read(arm, "torch", t, training=False) == []
    assert dropout.read(at_eval, "torch", t, training=False) == [0.75]
    switched = dropout_at_eval.SWITCH.apply(at_eval, t)
    assert dropout.read(switched, "torch", t, training=False) == []
    p = {k: torch.from_numpy(v) for k, v in init(0).items()}
    x = torch.from_numpy(np.asarray(t.x[:8], np.float32))
    torch.testing.assert_close(switched.torch_apply(p, x, None, False)[0], torch_drop(p, x, None, False)[0])
    toward_stax = dropout_rate.SWITCH.apply(arm, _target(DROPOUT, "a-stax"))  # F.dropout's p: 0.25 -> 0.75
    assert dropout.read(toward_stax, "torch", t, training=True) == [pytest.approx(0.25)]


# --- momentum: Nesterov's look-ahead (optax / torch nesterov=True) vs plain momentum, a drop at step 2 -----------


def mlp(p, x):
    import jax.numpy as jnp

    return jnp.tanh(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]


def _schedule(lr):
    import optax

    return optax.exponential_decay(lr, transition_steps=2, decay_rate=0.25, staircase=True)


def keras_plain(lr):
    import optax

    return optax.chain(optax.scale_by_learning_rate(_schedule(lr)), optax.trace(decay=0.9))


def keras_nesterov(lr):
    import optax

    return optax.chain(optax.scale_by_learning_rate(_schedule(lr)), optax.trace(decay=0.9, nesterov=True))


def optax_nesterov(lr):
    import optax

    return optax.sgd(_schedule(lr), momentum=0.9, nesterov=True)


def adam(lr):
    import optax

    return optax.adam(lr)


def torch_nesterov(params, lr):
    import torch

    class StepNesterov(torch.optim.SGD):
        def __init__(self, ps):
            super().__init__(ps, lr=lr, momentum=0.9, nesterov=True, foreach=False)
            self.sched = torch.optim.lr_scheduler.StepLR(self, step_size=2, gamma=0.25)

        def step(self, closure=None):
            super().step(closure)
            self.sched.step()

    return StepNesterov(list(params.values()))


NESTEROV = Workload(
    name="hidden-nesterov",
    version="1",
    question="Which mechanisms part the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=4, lr=0.1),
    model=Model(params=MLP, head="softmax", init=init, jax_apply=mlp, keras_build="unused:build"),
    arms=(
        _jax("a-nesterov", optimizer=optax_nesterov),
        _jax("b-keras-nesterov", optimizer=keras_nesterov),
        _jax("c-adam", optimizer=adam),
        Arm(
            "reference-f64",
            "float64",
            "f64",
            "ce-f64",
            loss_fn=ce,
            optimizer=keras_plain,
            requires=("jax", "optax"),
            role="reference",
        ),
    ),
    fix="b-keras-nesterov",
)


def test_nesterov_closes_the_first_parting_and_the_learning_rate_placement_the_second_together():
    from paritybench.analysis.explain_record import named_cause

    p = explain(NESTEROV, "a-nesterov", "reference-f64", 64, 4, holdout=True)
    assert p["parted"]["step"] == 0, p["parted"]  # the look-ahead parts at once, the placement at the drop
    assert_named(p, "nesterov")
    both = p["combination"]
    assert both is not None and both["names"] == ["nesterov", "momentum learning-rate placement"], p
    assert both["closes"] and both["ratio_after"] < 100
    assert "parts again at step 2" in p["verdict"], p["verdict"]
    assert named_cause(p)[0] == "nesterov + momentum learning-rate placement (together)"


def test_placement_alone_parts_two_nesterov_arms_at_the_drop():
    p = explain(NESTEROV, "a-nesterov", "b-keras-nesterov", 64, 4, holdout=True)
    assert p["parted"]["step"] == 2, p["parted"]
    assert_named(p, "momentum learning-rate placement")
    assert p["combination"] is None, p["combination"]  # the switched pair never parts again


def test_nesterov_reader_reads_optax_keras_and_torch_and_refuses_adam():
    import torch

    from paritybench.switches import Refusal, Target, momentum_lr, nesterov

    t = Target(NESTEROV, NESTEROV.arm("reference-f64"), {}, {}, 0.1, np.zeros((2, 784)), np.zeros((2, 10)), {})
    tarm = Arm("t-nesterov", "t", "torch", "t", torch_optimizer=torch_nesterov, requires=("torch",))
    want = {
        "a-nesterov": (momentum_lr.AFTER, True),
        "b-keras-nesterov": (momentum_lr.BEFORE, True),
        "reference-f64": (momentum_lr.BEFORE, False),
    }
    for name, (rule, nest) in want.items():
        got, n, m, lrs = momentum_lr.read_rule(NESTEROV.arm(name), t)
        assert (got, n) == (rule, nest) and m == pytest.approx(0.9, rel=1e-5), name
        np.testing.assert_allclose(lrs, [0.1, 0.1, 0.025, 0.025], rtol=1e-5)
    assert momentum_lr.read_rule(tarm, t)[:2] == (momentum_lr.AFTER, True)
    with pytest.raises(Refusal, match="its momentum cannot be read"):  # Adam: the bias correction moves every step
        momentum_lr.read_rule(NESTEROV.arm("c-adam"), t)
    # switched: torch's look-ahead dropped, its placement (after the buffer) kept; steps of g = 1 at lr 0.1, m 0.9
    switched = nesterov.SWITCH.apply(tarm, t)
    assert momentum_lr.read_rule(switched, t)[:2] == (momentum_lr.AFTER, False)
    p = torch.zeros(1, requires_grad=True)
    opt = switched.torch_optimizer({"p": p}, 0.1)
    for _ in range(2):  # b = 1, 1.9: w = -0.1, -0.29
        p.grad = torch.ones(1)
        opt.step()
    assert float(p.detach()) == pytest.approx(-0.29, rel=1e-5)
    with pytest.raises(Refusal, match="nothing to change: both take Nesterov's look-ahead"):
        nesterov.SWITCH.apply(NESTEROV.arm("a-nesterov"), replace_other(t, NESTEROV.arm("b-keras-nesterov")))


def replace_other(t, other):
    from dataclasses import replace

    return replace(t, other=other)


def test_verdict_says_where_the_switched_pair_parts_again_when_no_other_switch_closes_it():
    from paritybench.pipeline import explain
    from paritybench.switches import nesterov

    t = explain.Tried(nesterov.SWITCH, "a", {}, False, 1e7, ratio_after=1.0, closes=True)
    again = {"step": 5, "phase": "update", "tensor": "dense_0/kernel", "ratio": 3e6}
    text = explain.verdict(1e7, [t], None, again)
    assert text.startswith("nesterov closes the gap: 1e7x -> 1x")
    assert text.endswith("the pair parts again at step 5 (update, dense_0/kernel), which no other switch closes")


# --- compute dtype: a forward pass in bfloat16 on float32 weights (Keras's mixed_bfloat16) vs float32 ---------------


def _dense_in(p, x, dt):
    import jax
    import jax.numpy as jnp

    @jax.jit
    def layer(h, k, b):  # a jitted helper: its program is inlined when re-typed
        return jnp.tanh(h @ k + b)

    q = {k: v.astype(dt) for k, v in p.items()}
    h = layer(x.astype(dt), q["h/kernel"], q["h/bias"])
    return (h @ q["out/kernel"] + q["out/bias"]).astype(p["out/bias"].dtype)


def mlp_bf16(p, x):
    import jax.numpy as jnp

    return _dense_in(p, x, jnp.bfloat16)


def mlp_f16(p, x):
    import jax.numpy as jnp

    return _dense_in(p, x, jnp.float16)


def mlp_scan(p, x):
    """bfloat16, with the hidden layer in a scan over one step: a loop the switch does not re-type."""
    import jax
    import jax.numpy as jnp

    def body(c, _):
        return c, jnp.tanh(c @ p["h/kernel"].astype(jnp.bfloat16))

    _, hs = jax.lax.scan(body, x.astype(jnp.bfloat16), None, length=1)
    return (hs[0] @ p["out/kernel"].astype(jnp.bfloat16)).astype(jnp.float32)


COMPUTE = Workload(
    name="hidden-compute",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=2, lr=0.1),
    model=Model(params=MLP, head="softmax", init=init, jax_apply=mlp, keras_build="unused:build"),
    arms=(
        _jax("a-bf16", jax_apply=mlp_bf16),
        _jax("b-f16", jax_apply=mlp_f16),
        _jax("c-scan", jax_apply=mlp_scan),
        _jax("d-f32"),
        _reference(),
    ),
    fix="d-f32",
)


def test_compute_dtype_is_named_and_closes():
    assert_named(explain(COMPUTE, "a-bf16", "reference-f64", 64, 2, holdout=True), "compute dtype")


def test_compute_dtype_reader_reads_the_programs_dtypes_and_the_switched_arm_computes_in_float32():
    import jax
    import jax.numpy as jnp

    from paritybench.switches import Refusal, compute_dtype

    t = _target(COMPUTE, "reference-f64")
    got = {a: compute_dtype.read(COMPUTE.arm(a), t) for a in ("a-bf16", "b-f16", "c-scan", "d-f32", "reference-f64")}
    assert got == {
        "a-bf16": {"bfloat16"},
        "b-f16": {"float16"},
        "c-scan": {"bfloat16"},
        "d-f32": {"float32"},
        "reference-f64": {"float32"},
    }
    p = {k: jnp.asarray(v) for k, v in init(0).items()}
    x = jnp.asarray(t.x[:8])
    for arm in ("a-bf16", "b-f16"):
        switched = compute_dtype.SWITCH.apply(COMPUTE.arm(arm), t)
        assert not np.array_equal(COMPUTE.arm(arm).jax_apply(p, x), mlp(p, x))  # 16 bits: other logits
        np.testing.assert_array_equal(switched.jax_apply(p, x), mlp(p, x))
        g = jax.jit(jax.grad(lambda q, f=switched.jax_apply: f(q, x).sum()))(p)
        g0 = jax.grad(lambda q: mlp(q, x).sum())(p)
        for k in g0:
            np.testing.assert_allclose(g[k], g0[k], rtol=1e-6, atol=1e-7)
        assert compute_dtype.read(switched, t) == {"float32"}
    with pytest.raises(Refusal, match="uses scan: its program is not re-typed here"):
        compute_dtype.SWITCH.apply(COMPUTE.arm("c-scan"), t)
    with pytest.raises(Refusal, match="switching down to 16 bits is not offered"):
        compute_dtype.SWITCH.apply(COMPUTE.arm("d-f32"), _target(COMPUTE, "a-bf16"))
    with pytest.raises(Refusal, match="nothing to change: both compute in float32"):
        compute_dtype.SWITCH.apply(COMPUTE.arm("d-f32"), t)
