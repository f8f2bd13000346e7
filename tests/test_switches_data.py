"""issue 19 section 2: the batch order switch (fit-shuffle's mechanism) on a constructed minibatch pair whose
only difference, known to this test alone, is the order of the rows (the arms declare no conventions)."""

from __future__ import annotations

import numpy as np
import pytest

from paritybench.workloads import Arm, Data, Model, Training, Workload

MLP = {"h/kernel": (784, 16), "h/bias": (16,), "out/kernel": (16, 10), "out/bias": (10,)}


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    return {
        k: (rng.normal(0, 0.08, s) if k.endswith("kernel") else np.zeros(s)).astype(np.float32) for k, s in MLP.items()
    }


def mlp(p, x):
    import jax.numpy as jnp

    return jnp.tanh(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]


def ce(z, y):
    import jax

    return -(y * jax.nn.log_softmax(z)).sum(-1)


def _jax(name, **kw):
    return Arm(name, name, "jax", name, loss_fn=ce, requires=("jax", "optax"), **kw)


ORDER = Workload(
    name="hidden-order",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True, batch_size=16),
    training=Training(steps=6, lr=0.1),
    model=Model(params=MLP, head="softmax", init=init, jax_apply=mlp, keras_build="unused:build"),
    arms=(
        _jax("a-window", optimizer=None),
        _jax("b-shuffled", shuffle_seed=3),
        _jax("c-other-seed", shuffle_seed=5),
        Arm(
            "torch-window",
            "torch",
            "torch",
            "torch-window",
            torch_loss="paritybench.workloads.kit.torch:ce_logits",
            requires=("torch",),
        ),
        Arm(
            "reference-f64",
            "float64",
            "f64",
            "ce-f64",
            loss_fn=ce,
            requires=("jax", "optax"),
            role="reference",
            shuffle_seed=3,
        ),
    ),
    fix="b-shuffled",
)


def _ctx(steps=6):
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import localize

    x, y = data.window(data.load_mnist(), 0, 64, True, labels="onehot10")
    weights = copy_weights(init(0), MLP)
    return localize.Context(ORDER, ORDER.training.lr, steps, x, y, weights, NumericsOptions(), n=64)


def _target(ctx, other):
    from paritybench.switches import Target

    return Target(ORDER, ORDER.arm(other), {}, {}, 0.1, ctx.x[:8], ctx.y[:8], ctx.init, {}, ctx.batches_for)


def test_batch_order_is_named_and_closes():
    from paritybench.pipeline import explain

    ctx = _ctx()
    p = explain.explain_pair(ctx, ORDER.arm("a-window"), ORDER.arm("b-shuffled"), {}, {}).to_dict()
    assert p["parted"] is not None and p["parted"]["step"] == 0, p
    top = p["switches"][0]
    assert top["name"] == "batch order" and top["closes"] and top["applied_to"] == "a-window", p["switches"]
    assert top["ratio_after"] < 100 < top["ratio_before"]
    others = [s for s in p["switches"][1:] if s["refused"] is None]
    assert all(not s["closes"] for s in others), p["switches"]


def test_batch_order_reads_the_rows_each_arm_trains_on():
    from paritybench.arms.minibatch import numpy_fit_order
    from paritybench.switches import Refusal, batch_order

    ctx = _ctx()
    t = _target(ctx, "b-shuffled")
    window = batch_order.rows(ORDER.arm("a-window"), t)
    assert window[:4] == tuple(tuple(range(16 * k, 16 * k + 16)) for k in range(4)) and window[4] == window[0]
    shuffled = batch_order.rows(ORDER.arm("b-shuffled"), t)
    first = numpy_fit_order(3, 64, 2)[0]  # epoch 0's permutation (the symbolic build's draw skipped)
    assert shuffled[0] == tuple(int(i) for i in first[:16]) and sorted(sum(shuffled[:4], ())) == list(range(64))
    switched = batch_order.SWITCH.apply(ORDER.arm("a-window"), t)
    assert switched.shuffle_seed == 3 and batch_order.rows(switched, t) == shuffled
    # toward window order: the seed dropped
    back = batch_order.SWITCH.apply(ORDER.arm("c-other-seed"), _target(ctx, "a-window"))
    assert back.shuffle_seed is None
    with pytest.raises(Refusal, match="nothing to change"):
        batch_order.SWITCH.apply(ORDER.arm("b-shuffled"), _target(ctx, "reference-f64"))
    with pytest.raises(Refusal, match="torch arm trains its batches in window order"):
        batch_order.SWITCH.apply(ORDER.arm("torch-window"), t)


def test_pair_with_masks_from_different_generators_is_refused_before_training():
    from dataclasses import replace

    from paritybench.analysis.explain_record import named_cause
    from paritybench.pipeline import explain

    ctx = _ctx()
    a = replace(ORDER.arm("a-window"), conventions={"dropout mask": "jax.random.bernoulli keyed [7, step]"})
    b = replace(ORDER.arm("b-shuffled"), conventions={"dropout mask": "torch.bernoulli, Generator(7 + step)"})
    p = explain.explain_pair(ctx, a, b, {}, {}).to_dict()
    assert p["parted"] is None and p["switches"] == [] and ctx.seconds == {}, p  # nothing trained
    assert p["verdict"].startswith("refused: the arms draw their random dropout masks from different generators")
    assert named_cause(p)[0] == p["verdict"]
    # the same masks on both sides: explained as any pair (the batch order parts them)
    same = replace(b, conventions=dict(a.conventions))
    q = explain.explain_pair(ctx, a, same, {}, {}).to_dict()
    assert q["parted"] is not None and q["switches"][0]["name"] == "batch order", q
