"""issue 19 section 2: ``explain`` names the convention that parts two arms by switching it, on pairs whose cause
only this test knows: the arms below declare no conventions (``Arm.conventions`` empty), each differs from its
partner in one mechanism written here, and the switch that closes the gap must be that mechanism's, ranked first,
while the switches of the other mechanisms do not close it (or are refused, with a reason)."""

from __future__ import annotations

import numpy as np
import pytest

from paritybench.workloads import Arm, Data, Model, Training, Workload

H = 16
PARAMS = {"h/kernel": (784, H), "h/bias": (H,), "out/kernel": (H, 10), "out/bias": (10,)}


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    return {
        k: (rng.normal(0, 0.08, s) if k.endswith("kernel") else np.zeros(s)).astype(np.float32)
        for k, s in PARAMS.items()
    }


def apply(p, x):
    import jax.numpy as jnp

    return jnp.tanh(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]


def relu_apply(p, x):
    import jax.numpy as jnp

    return jnp.maximum(x @ p["h/kernel"] + p["h/bias"], 0.0) @ p["out/kernel"] + p["out/bias"]


def _act_apply(act):
    def apply_with(p, x):
        return act(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]

    return apply_with


def gelu_tanh(p, x):
    import jax

    return _act_apply(lambda h: jax.nn.gelu(h))(p, x)  # jax's default: approximate=True


def gelu_exact(p, x):
    import jax

    return _act_apply(lambda h: jax.nn.gelu(h, approximate=False))(p, x)


def leaky_001(p, x):
    import jax

    return _act_apply(lambda h: jax.nn.leaky_relu(h))(p, x)  # jax's default slope 0.01


def leaky_03(p, x):
    import jax

    return _act_apply(lambda h: jax.nn.leaky_relu(h, negative_slope=0.3))(p, x)


def ce(z, y):
    import optax

    return optax.softmax_cross_entropy(z, y)


def clipped(z, y):
    """CE on softmax probabilities clipped to [0.1, 0.9]: the clip's gradient is zero outside."""
    import jax
    import jax.numpy as jnp

    return -jnp.sum(y * jnp.log(jnp.clip(jax.nn.softmax(z), 0.1, 0.9)), axis=-1)


def pairwise(z, y):
    """Every sample's logits against every sample's labels: (n, n) losses."""
    import jax
    import jax.numpy as jnp

    return -jnp.sum(jax.nn.log_softmax(z)[:, None, :] * y[None, :, :], axis=-1)


def summed(z, y):
    """CE summed over the batch, written as each sample's loss times the batch size (the trainer averages)."""
    return ce(z, y) * z.shape[0]


def kernels(params):
    return {k: k.endswith("kernel") for k in params}


def decay_1(lr):
    import optax

    return optax.chain(optax.add_decayed_weights(0.01, mask=kernels), optax.sgd(lr))


def decay_2(lr):
    import optax

    return optax.chain(optax.add_decayed_weights(0.02, mask=kernels), optax.sgd(lr))


def adam_after(lr):
    import optax

    return optax.adam(lr, eps=1e-7)


def adam_before(lr):
    from paritybench.workloads.kit.optimizers import keras_adam

    return keras_adam(lr, 0.9, 0.999, 1e-7)


def _jax(name, loss=ce, **kw):
    return Arm(name, name, "jax", name, loss_fn=loss, requires=("jax", "optax"), **kw)


WORKLOAD = Workload(
    name="hidden-causes",
    version="1",
    question="Which one mechanism parts each pair?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=100, normalize=True),
    training=Training(steps=1, lr=0.1),
    model=Model(params=PARAMS, head="softmax", init=init, jax_apply=apply, keras_build="unused:build"),
    arms=(
        _jax("a-clip", loss=clipped),
        _jax("a-pairwise", loss=pairwise),
        _jax("a-sum", loss=summed),
        _jax("a-relu", jax_apply=relu_apply),
        _jax("a-decay", optimizer=decay_1),
        _jax("b-decay", optimizer=decay_2),
        _jax("a-adam", optimizer=adam_after),
        _jax("b-adam", optimizer=adam_before),
        _jax("a-same"),
        _jax("a-gelu", jax_apply=gelu_tanh),
        _jax("b-gelu", jax_apply=gelu_exact),
        _jax("a-leaky", jax_apply=leaky_001),
        _jax("b-leaky", jax_apply=leaky_03),
        Arm("reference-f64", "float64", "f64", "ce-f64", loss_fn=ce, requires=("jax", "optax"), role="reference"),
    ),
    fix="a-same",
)


@pytest.fixture(scope="module")
def setting():
    """The run's context (MNIST's first window, one step) and the conventions rows explain reads."""
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import conventions, localize

    w = WORKLOAD
    x, y = data.window(data.load_mnist(), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    ctx = localize.Context(w, w.training.lr, 1, x, y, copy_weights(init(0), PARAMS), NumericsOptions(), n=100)
    return ctx, conventions.collect(w, w.arms, w.training.lr, NumericsOptions())


@pytest.fixture(scope="module")
def explained(setting):
    """Each pair explained once (in this process: the arms are callables)."""
    from paritybench.pipeline import explain

    ctx, rows = setting
    w = WORKLOAD
    cache: dict = {}
    pairs = {
        "clip": ("a-clip", "reference-f64"),
        "pairwise": ("a-pairwise", "reference-f64"),
        "sum": ("a-sum", "reference-f64"),
        "relu": ("a-relu", "reference-f64"),
        "decay": ("a-decay", "b-decay"),
        "adam": ("a-adam", "b-adam"),
        "same": ("a-same", "reference-f64"),
        "gelu": ("a-gelu", "b-gelu"),
        "leaky": ("a-leaky", "b-leaky"),
        "adam-reversed": ("b-adam", "a-adam"),
    }
    return {k: explain.explain_pair(ctx, w.arm(a), w.arm(b), rows, cache).to_dict() for k, (a, b) in pairs.items()}


@pytest.mark.parametrize(
    "pair, switch",
    [
        ("clip", "loss from logits"),
        ("pairwise", "label shape (per-sample loss)"),
        ("sum", "loss reduction"),
        ("relu", "forward pass"),
        ("decay", "weight decay coefficient"),
        ("adam", "adam epsilon placement"),
        ("gelu", "gelu approximation"),
        ("leaky", "leaky relu slope"),
    ],
)
def test_the_hidden_cause_is_ranked_first_and_closes_and_no_other_switch_does(explained, pair, switch):
    p = explained[pair]
    assert p["parted"] is not None, p
    top = p["switches"][0]
    assert top["name"] == switch and top["closes"], p["switches"]
    assert top["ratio_after"] < 100 < p["parted"]["ratio"] or p["parted"]["ratio"] is None
    assert p["verdict"].startswith(f"{switch} closes the gap"), p["verdict"]
    # a wrong switch never closes: each is refused or leaves the gap open; the broad forward-pass switch (another
    # arm's whole forward pass) may close too where the cause is in the forward pass, and ranks after
    others = [s for s in p["switches"][1:] if s["refused"] is None and s["name"] != "forward pass"]
    assert all(s["ratio_after"] > 100 and not s["closes"] for s in others), p["switches"]


def test_where_a_cannot_be_switched_b_is_switched_toward_a(explained):
    """b-adam (Keras's placement, a custom transform) has no optax placement to switch: the other arm, a plain
    optax Adam and not the reference, is switched toward it instead."""
    p = explained["adam-reversed"]
    top = p["switches"][0]
    assert top["name"] == "adam epsilon placement" and top["closes"] and top["applied_to"] == "a-adam", top


def test_a_pair_that_does_not_part_has_nothing_to_explain(explained):
    p = explained["same"]
    assert p["parted"] is None and p["switches"] == [] and p["verdict"] == "does not part: nothing to explain"


def test_the_record_keeps_the_contract_keys(explained):
    from paritybench.pipeline import explain

    rec = explain.record("hidden-causes", [])
    assert list(rec) == ["format_version", "kind", "workload", "factor", "pairs"] and rec["factor"] == 100.0
    p = explained["adam"]
    assert list(p) == ["a", "b", "parted", "verdict", "switches", "combination"]
    assert list(p["parted"]) == ["step", "phase", "tensor", "ratio"]
    keys = ["name", "family", "demonstrated_by", "applied_to", "rows", "ratio_before", "ratio_after", "closes"]
    assert all(list(s) == [*keys, "refused"] for s in p["switches"])
    refused = [s for s in p["switches"] if s["refused"]]
    assert refused and all(s["ratio_after"] is None and not s["closes"] for s in refused)
    top = p["switches"][0]
    assert top["demonstrated_by"] == "adam-epsilon" and top["applied_to"] == "a-adam"
    assert top["rows"]["optimizer.epsilon placement"][0].startswith("sqrt(v_hat) + eps")


def test_a_switch_that_fails_is_refused_with_the_failure_and_the_others_go_on(setting):
    from paritybench.pipeline import explain
    from paritybench.switches import Switch, loss_logits

    def boom(arm, target):
        raise RuntimeError("probe failed\nsecond line")

    broken = Switch("broken", "loss", "always fails", (), None, {"jax": boom})
    ctx, rows = setting
    e = explain.explain_pair(
        ctx, WORKLOAD.arm("a-clip"), WORKLOAD.arm("reference-f64"), rows, {}, (broken, loss_logits.SWITCH)
    )
    first, last = e.tried
    assert first.switch.name == "loss from logits" and first.closes
    assert last.refused == "could not be applied to a-clip: RuntimeError: probe failed" and last.ratio_after is None
