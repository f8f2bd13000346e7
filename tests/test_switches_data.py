"""issue 19 section 2: the batch order switch (fit-shuffle's mechanism) on a constructed minibatch pair whose
only difference, known to this test alone, is the order of the rows (the arms declare no conventions)."""

from __future__ import annotations

from pathlib import Path

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


def torch_mlp(p, x):
    import torch

    return torch.tanh(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]


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
            torch_apply=torch_mlp,
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
    # a torch arm too: the rows its evaluator steps through (batches_for) follow the seed it is given
    torch_switched = batch_order.SWITCH.apply(ORDER.arm("torch-window"), t)
    assert torch_switched.shuffle_seed == 3 and batch_order.rows(torch_switched, t) == shuffled
    assert ctx.batches_for(torch_switched).slices[0].tolist() == list(shuffled[0])


def test_batch_order_is_named_and_closes_on_a_torch_arm():
    from paritybench.pipeline import explain

    ctx = _ctx()
    p = explain.explain_pair(ctx, ORDER.arm("torch-window"), ORDER.arm("reference-f64"), {}, {}).to_dict()
    assert p["parted"] is not None and p["parted"]["step"] == 0, p
    top = p["switches"][0]
    assert top["name"] == "batch order" and top["closes"] and top["applied_to"] == "torch-window", p["switches"]
    assert top["ratio_after"] < 100 < top["ratio_before"]
    others = [s for s in p["switches"][1:] if s["refused"] is None]
    assert all(not s["closes"] for s in others), p["switches"]


def test_pair_with_masks_from_different_generators_is_refused_before_training():
    from dataclasses import replace

    from paritybench.analysis.explain_record import named_cause
    from paritybench.pipeline import explain

    ctx = _ctx()
    a = replace(ORDER.arm("a-window"), conventions={"dropout mask": "jax.random.bernoulli keyed [7, step]"})
    b = replace(ORDER.arm("b-shuffled"), conventions={"dropout mask": "torch.bernoulli, Generator(7 + step)"})
    p = explain.explain_pair(ctx, a, b, {}, {}).to_dict()
    assert p["parted"] is None and p["switches"] == [] and ctx.seconds == {}, p  # nothing trained
    assert p["verdict"].startswith("refused: the arms draw their dropout masks from different generators")
    assert named_cause(p)[0] == p["verdict"]
    # the same masks on both sides: explained as any pair (the batch order parts them)
    same = replace(b, conventions=dict(a.conventions))
    q = explain.explain_pair(ctx, a, same, {}, {}).to_dict()
    assert q["parted"] is not None and q["switches"][0]["name"] == "batch order", q


# --- master weights: an SGD that keeps bfloat16 weights (no float32 copy) vs float32 weights, bf16 compute ------


def bf16_weights_sgd(lr):
    import jax
    import jax.numpy as jnp
    import optax

    def rnd(a):
        return a.astype(jnp.bfloat16).astype(jnp.float32)

    def update(g, state, params):
        return jax.tree.map(lambda gi, w: rnd(rnd(w) - rnd(rnd(jnp.float32(lr)) * rnd(gi))) - w, g, params), state

    return optax.GradientTransformation(lambda p: optax.EmptyState(), update)


def bf16_weights_adam(lr):
    import jax
    import jax.numpy as jnp
    import optax

    inner = optax.adam(lr)

    def update(g, state, params):
        u, state = inner.update(g, state, params)
        new = jax.tree.map(lambda ui, w: (w + ui).astype(jnp.bfloat16).astype(jnp.float32) - w, u, params)
        return new, state

    return optax.GradientTransformation(inner.init, update)


def mlp_bf16(p, x):
    import jax.numpy as jnp

    q = {k: v.astype(jnp.bfloat16) for k, v in p.items()}
    return mlp(q, x.astype(jnp.bfloat16)).astype(jnp.float32)


MASTER = Workload(
    name="hidden-master",
    version="1",
    question="Which one mechanism parts the pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=4, lr=0.01),
    model=Model(params=MLP, head="softmax", init=init, jax_apply=mlp_bf16, keras_build="unused:build"),
    arms=(
        _jax("a-bf16-weights", optimizer=bf16_weights_sgd),
        _jax("b-f32-weights"),
        _jax("c-bf16-adam", optimizer=bf16_weights_adam),
        Arm("reference-f64", "float64", "f64", "ce-f64", loss_fn=ce, requires=("jax", "optax"), role="reference"),
    ),
    fix="b-f32-weights",
)


def test_master_weights_reader_and_refusals():
    from paritybench.switches import Refusal, Target, master_weights

    t = Target(MASTER, MASTER.arm("b-f32-weights"), {}, {}, 0.01, np.zeros((2, 784)), np.zeros((2, 10)), {})
    assert master_weights.read(MASTER.arm("a-bf16-weights"), t) == master_weights.BF16
    assert master_weights.read(MASTER.arm("b-f32-weights"), t) == master_weights.F32
    assert master_weights.read(MASTER.arm("c-bf16-adam"), t) == master_weights.BF16
    switched = master_weights.SWITCH.apply(MASTER.arm("a-bf16-weights"), t)
    assert master_weights.read(switched, t) == master_weights.F32
    with pytest.raises(Refusal, match="not plain SGD"):
        master_weights.SWITCH.apply(MASTER.arm("c-bf16-adam"), t)
    back = Target(MASTER, MASTER.arm("a-bf16-weights"), {}, {}, 0.01, t.x, t.y, {})
    with pytest.raises(Refusal, match="switching to 16-bit weights is not offered"):
        master_weights.SWITCH.apply(MASTER.arm("b-f32-weights"), back)


def test_master_weights_reads_an_adapter_arms_optimizer_over_the_workloads_own_parameters():
    # examples/own_models' JAX arm steps the user's optax.adam through the adapter, which maps the workload's
    # parameter names onto the user's tree: a probe over one array named "w" raised KeyError: 'dense_0/kernel'
    from paritybench.switches import Refusal, Target, master_weights
    from paritybench.workloads import registry

    w = registry.load(str(Path(__file__).parents[1] / "examples" / "own_models" / "workload.py"))
    t = Target(w, w.arm("keras-tensorflow"), {}, {}, 0.01, np.zeros((2, 8)), np.zeros((2, 1)), {})
    assert master_weights.read(w.arm("jax"), t) == master_weights.F32
    with pytest.raises(Refusal, match=r"^keras-tensorflow's optimizer is not an optax one"):
        master_weights.SWITCH.apply(w.arm("jax"), t)


def test_master_weights_is_named_and_closes():
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import explain, localize

    x, y = data.window(data.load_mnist(), 0, 64, True, labels="onehot10")
    ctx = localize.Context(MASTER, 0.01, 4, x, y, copy_weights(init(0), MLP), NumericsOptions(), n=64)
    p = explain.explain_pair(ctx, MASTER.arm("a-bf16-weights"), MASTER.arm("b-f32-weights"), {}, {}).to_dict()
    # the same bf16 forward and backward pass: they part at step 0's update (the 16-bit rounding of the weights)
    assert p["parted"] is not None and (p["parted"]["step"], p["parted"]["phase"]) == (0, "update"), p
    top = p["switches"][0]
    assert top["name"] == "master weights precision" and top["closes"], p["switches"]
    others = [s for s in p["switches"][1:] if s["refused"] is None]
    assert all(not s["closes"] for s in others), p["switches"]


def test_table_cell_names_a_closing_combination():
    from paritybench.analysis.explain_record import named_cause

    sw = {"refused": None, "closes": False, "ratio_before": 1.04e5, "ratio_after": 8.4e4, "name": "forward pass"}
    pair = {"parted": {"step": 0}, "verdict": "no switch closes", "switches": [sw], "combination": None}
    assert named_cause(pair) == ("forward pass (does not close)", "1.04e5 -> 8.4e4")
    pair["combination"] = {"names": ["forward pass", "master weights precision"], "ratio_after": 1.0, "closes": True}
    assert named_cause(pair) == ("forward pass + master weights precision (together)", "1.04e5 -> 1")


def test_dropout_rng_marks_its_torch_arm_as_drawing_other_masks():
    from paritybench.pipeline.explain import random_draws_differ
    from paritybench.workloads import registry

    w = registry.load("dropout-rng")
    ref = w.arm(w.reference)
    assert random_draws_differ(w.arm("torch-dropout"), ref) is not None
    assert random_draws_differ(w.arm("jax-stax-keep-rate"), ref) is None  # Keras-JAX's key: the same masks
    assert random_draws_differ(w.arm("jax-dropout-at-eval"), ref) is None


def test_fit_shuffle_arms_rows_read_from_what_they_train_on():
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.pipeline import localize
    from paritybench.switches import Refusal, Target, batch_order
    from paritybench.workloads import registry

    w = registry.load("fit-shuffle")
    x, y = data.window(data.load_mnist(), 0, w.data.n, True, labels="onehot10")
    ctx = localize.Context(w, w.training.lr, w.training.steps, x, y, {}, NumericsOptions(), n=w.data.n)
    ref = w.arm(w.reference)
    t = Target(w, ref, {}, {}, ctx.lr, x[:8], y[:8], {}, {}, ctx.batches_for)
    assert batch_order.rows(w.arm("jax-fit-order"), t) == batch_order.rows(ref, t)
    assert batch_order.rows(w.arm("jax-in-order"), t) != batch_order.rows(ref, t)
    assert batch_order.SWITCH.apply(w.arm("jax-in-order"), t).shuffle_seed == ref.shuffle_seed
    with pytest.raises(Refusal, match="drawn in its worker"):
        batch_order.rows(w.arm("keras-tensorflow"), t)
    assert batch_order.rows(w.arm("keras-tensorflow-in-order"), t) == batch_order.rows(w.arm("jax-in-order"), t)
