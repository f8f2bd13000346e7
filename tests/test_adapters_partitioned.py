"""Equinox-style partitioned models through the JAX adapter (``paritybench.adapters.partitioned``, issue 18 item
3): a model written as a pytree object (a registered dataclass, a NamedTuple of arrays; an ``equinox.Module``
where equinox is installed, which paritybench does not require) trains, as a JaxModel, the bits the same
arithmetic written as a pure ``apply(params, x)`` over a dict trains. The equinox test runs where equinox is
importable; it passed with equinox 0.13.8 put on the path only (``uv pip install --target DIR --no-deps equinox
jaxtyping wadler_lindig``, then ``PYTHONPATH=DIR pytest tests/test_adapters_partitioned.py -k equinox``)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import numpy as np
import pytest

from paritybench.adapters.arms import JaxModel, own_workload
from paritybench.adapters.partitioned import partitioned_model
from paritybench.arms import TrainSpec, jax_trainer
from paritybench.errors import ParityError
from paritybench.experiment.weights import weights_sha256
from paritybench.workloads import Data, Training

from .test_adapters_arms import DECLARED, data, user_apply, user_init, user_loss


@dataclasses.dataclass
class Dense:
    w: Any
    b: Any


@dataclasses.dataclass
class MLP:
    """The user's model as a pytree object: a non-array field (the activation's name) first, then the layers."""

    activation: str
    hidden: Dense
    out: Dense

    def __call__(self, x):
        import jax

        act = getattr(jax.numpy, self.activation)
        h = act(x @ self.hidden.w + self.hidden.b)
        return h @ self.out.w + self.out.b


@functools.cache
def registered() -> None:
    """Registers the dataclasses as pytrees (``jax.tree_util.register_dataclass``, every field data: the
    activation's name is a leaf, left static by the partition as ``eqx.partition(model, eqx.is_array)`` leaves it)."""
    import jax

    jax.tree_util.register_dataclass(Dense, data_fields=["w", "b"], meta_fields=[])
    jax.tree_util.register_dataclass(MLP, data_fields=["activation", "hidden", "out"], meta_fields=[])


def build_dataclass(seed):
    registered()
    p = user_init(seed)  # the same initial values as the dict model's, from the same keys
    return MLP("tanh", Dense(p["hidden"]["w"], p["hidden"]["b"]), Dense(p["out"]["w"], p["out"]["b"]))


class Layer(NamedTuple):
    w: Any
    b: Any


class Net(NamedTuple):
    hidden: Layer
    out: Layer


def build_namedtuple(seed):
    p = user_init(seed)
    return Net(Layer(p["hidden"]["w"], p["hidden"]["b"]), Layer(p["out"]["w"], p["out"]["b"]))


def apply_namedtuple(net, x):
    import jax.numpy as jnp

    return jnp.tanh(x @ net.hidden.w + net.hidden.b) @ net.out.w + net.out.b


def own(model: JaxModel):
    return own_workload(
        "own-partitioned",
        "Does a partitioned pytree model train what a pure apply trains?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=1e-2),
        jax=model,
    )


def trained(model: JaxModel, arm: str = "jax"):
    w = own(model)
    init = w.model.init(0)
    x, y = data()
    return init, jax_trainer.train_many(w, w.arm(arm), [init], x, y, TrainSpec(steps=20, lr=1e-2))[0]


def optimizer():
    import optax

    return optax.adam(1e-2, eps=1e-7)


@pytest.mark.parametrize("kind", ["dataclass", "namedtuple"])
def test_a_partitioned_pytree_model_trains_the_bits_of_the_same_dict_model(kind):
    model = (
        partitioned_model(build_dataclass, optimizer(), user_loss)
        if kind == "dataclass"
        else partitioned_model(build_namedtuple, optimizer(), user_loss, apply=apply_namedtuple)
    )
    m = model.weight_map(DECLARED)
    # the array leaves by their attribute paths, in flattening order; the activation's name is no weight
    assert [(r.sources[0].name, r.target.name, r.transform) for r in m.rows] == [
        ("dense_0/kernel", "hidden/w", "identity"),
        ("dense_0/bias", "hidden/b", "identity"),
        ("dense_1/kernel", "out/w", "identity"),
        ("dense_1/bias", "out/b", "identity"),
    ]
    assert "hidden/w" in m.text()
    init, ours = trained(model)
    init_dict, theirs = trained(JaxModel(user_apply, user_init, optimizer(), user_loss))
    assert weights_sha256(init) == weights_sha256(init_dict)
    moved = max(float(np.max(np.abs(ours.final_weights[k] - init[k]))) for k in DECLARED)
    diff = max(float(np.max(np.abs(ours.final_weights[k] - theirs.final_weights[k]))) for k in DECLARED)
    print(f"{kind}: moved {moved:.3g}, vs the dict model after 20 Adam steps: max|diff| {diff:.3g}")
    assert moved > 1e-3 and diff == 0.0
    assert weights_sha256(ours.final_weights) == weights_sha256(theirs.final_weights)


def eqx_style_step(opt, forward=lambda model, x: model(x)):
    """The user's train step as equinox users write it, with ``eqx.partition``/``eqx.combine`` written out in
    ``jax.tree_util`` (as ``equinox/_filters.py`` does it: a tree_map keeping array leaves, None elsewhere)."""
    import jax
    import optax

    def is_array(v):
        return isinstance(v, (np.ndarray, np.generic, jax.Array))

    def partition(model):
        return (
            jax.tree.map(lambda v: v if is_array(v) else None, model),
            jax.tree.map(lambda v: None if is_array(v) else v, model),
        )

    def combine(a, b):
        return jax.tree.map(lambda u, v: v if u is None else u, a, b, is_leaf=lambda n: n is None)

    def train_step(model, opt_state, x, y):
        params, static = partition(model)
        loss, grads = jax.value_and_grad(lambda p: user_loss(forward(combine(p, static), x), y))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return combine(optax.apply_updates(params, updates), static), opt_state, loss

    return train_step


class NetWithNone(NamedTuple):
    """A model with a None field (as an ``eqx.nn.Linear(use_bias=False)`` holds its bias): an empty subtree."""

    hidden: Layer
    unused: Any
    out: Layer


def build_with_none(seed):
    net = build_namedtuple(seed)
    return NetWithNone(net.hidden, None, net.out)


@pytest.mark.parametrize("kind", ["dataclass", "namedtuple-with-none"])
def test_an_equinox_style_train_step_trains_the_bits_of_the_adapters_step(kind):
    opt = optimizer()
    if kind == "dataclass":
        model = partitioned_model(build_dataclass, opt, user_loss, eqx_style_step(opt))
    else:
        step = eqx_style_step(opt, apply_namedtuple)
        model = partitioned_model(build_with_none, opt, user_loss, step, apply=apply_namedtuple)
    w = own(model)
    assert [a.name for a in w.arms] == ["jax", "jax-step", "reference-f64"]
    init, ours = trained(model)
    _, theirs = trained(model, "jax-step")
    moved = max(float(np.max(np.abs(theirs.final_weights[k] - init[k]))) for k in DECLARED)
    print(f"equinox-style step: moved {moved:.3g}")
    assert moved > 1e-3 and weights_sha256(theirs.final_weights) == weights_sha256(ours.final_weights)
    rec = theirs.info["user_step"]
    assert rec["agrees"] and len(rec["loss"]) == 20, rec


def test_an_array_leaf_that_fits_no_declared_weight_is_one_line_naming_both_sides():
    import jax.numpy as jnp

    def build(seed):
        net = build_namedtuple(seed)
        return net._replace(hidden=Layer(jnp.zeros((8, 15)), net.hidden.b))

    model = partitioned_model(build, optimizer(), user_loss, apply=apply_namedtuple)
    with pytest.raises(ParityError) as e:
        model.weight_map(DECLARED)
    msg = str(e.value)
    print(msg)
    assert "\n" not in msg and "dense_0/kernel" in msg and "hidden/w" in msg and "(8, 15)" in msg


def test_a_model_without_array_leaves_is_refused_in_one_line():
    model = partitioned_model(lambda seed: Net(Layer("a", "b"), Layer("c", "d")), optimizer(), user_loss)
    with pytest.raises(ParityError, match="has no array leaves") as e:
        model.weight_map(DECLARED)
    assert "\n" not in str(e.value)


def test_a_real_equinox_mlp_and_its_filter_jit_step_train_as_a_partitioned_model():
    import equinox as eqx  # a dev dependency for this test; adapters.partitioned never imports it
    import jax

    def build(seed):
        return eqx.nn.MLP(8, 1, 16, 1, activation=jax.numpy.tanh, key=jax.random.PRNGKey(seed))

    def forward(mlp, x):  # an equinox MLP takes one sample: equinox users batch it with jax.vmap
        return jax.vmap(mlp)(x)

    opt = optimizer()

    @eqx.filter_jit
    def train_step(model, opt_state, x, y):  # as equinox's own examples write it
        loss, grads = eqx.filter_value_and_grad(lambda m: user_loss(forward(m, x), y))(model)
        updates, opt_state = opt.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss

    # equinox's Linear holds its weight as (out, in), torch's layout: the declared (in, out) kernels are transposed
    declared = DECLARED
    model = partitioned_model(build, opt, user_loss, train_step, apply=forward)
    assert [(r.target.name, r.transform) for r in model.weight_map(declared).rows] == [
        ("layers/0/weight", "transpose"),
        ("layers/0/bias", "identity"),
        ("layers/1/weight", "transpose"),
        ("layers/1/bias", "identity"),
    ]
    # the adapter's params are eqx.partition(model, eqx.is_array)'s, in the same order, the kernels transposed
    theirs = jax.tree.leaves(eqx.partition(build(3), eqx.is_array)[0])
    ours = list(model.init(declared)(3).values())
    assert len(ours) == len(theirs) == 4
    assert all(np.array_equal(a.T if a.ndim == 2 else a, b) for a, b in zip(ours, theirs, strict=True))
    w = own_workload(
        "own-eqx",
        "Does an equinox MLP train by its own step as by paritybench's?",
        params=declared,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=1e-2),
        jax=model,
    )
    init = w.model.init(0)
    x, y = data()
    spec = TrainSpec(steps=20, lr=1e-2)
    plain = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, spec)[0]
    stepped = jax_trainer.train_many(w, w.arm("jax-step"), [init], x, y, spec)[0]
    moved = max(float(np.max(np.abs(plain.final_weights[k] - init[k]))) for k in declared)
    diff = max(float(np.max(np.abs(plain.final_weights[k] - stepped.final_weights[k]))) for k in declared)
    print(f"equinox MLP: moved {moved:.3g}, its filter_jit step vs the adapter's after 20 Adam steps: {diff:.3g}")
    assert moved > 1e-3 and stepped.info["user_step"]["agrees"], stepped.info["user_step"]
    assert weights_sha256(stepped.final_weights) == weights_sha256(plain.final_weights)


def test_localize_reads_a_partitioned_model_and_finds_a_step_that_changes_its_gradient():
    """``localize`` works on the adapter's arms unchanged: the plain arm agrees with the float64 arbiter, and an
    equinox-style step that halves its gradient parts from it at step 0 in the update phase."""
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.pipeline import localize

    opt = optimizer()
    inner = eqx_style_step(opt)

    def halved_step(model, opt_state, x, y):
        # its target moved halfway to the model's output: the MSE gradient at these weights is half paritybench's
        return inner(model, opt_state, x, 0.5 * y + 0.5 * model(x))

    w = own(partitioned_model(build_dataclass, opt, user_loss, halved_step))
    x, y = data()
    ctx = localize.Context(w, w.training.lr, 3, x, y, w.model.init(0), NumericsOptions(), n=64)
    cache: dict = {}
    plain = localize.localize_pair(ctx, w.arm("jax"), w.arm("reference-f64"), cache)
    print(plain.line())
    assert plain.first is None, plain.line()
    r = localize.localize_pair(ctx, w.arm("jax-step"), w.arm("reference-f64"), cache)
    print(r.line())
    assert r.first is not None and (r.first.step, r.first.phase) == (0, "update"), r.line()


USER_MODEL = '''
"""The user's model as a pytree object (registered dataclasses), its equinox-style step and its data."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax


@functools.partial(jax.tree_util.register_dataclass, data_fields=["w", "b"], meta_fields=[])
@dataclasses.dataclass
class Dense:
    w: jax.Array
    b: jax.Array


# the activation's name a meta field: static in the treedef, as eqx.field(static=True) makes it (a str leaf
# would stop jax.jit; equinox users jit by eqx.filter_jit for that)
@functools.partial(jax.tree_util.register_dataclass, data_fields=["hidden", "out"], meta_fields=["activation"])
@dataclasses.dataclass
class MLP:
    activation: str
    hidden: Dense
    out: Dense

    def __call__(self, x):
        h = getattr(jnp, self.activation)(x @ self.hidden.w + self.hidden.b)
        return h @ self.out.w + self.out.b


def build(seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    glorot = jax.nn.initializers.glorot_uniform()
    return MLP("tanh", Dense(glorot(k1, (8, 16)), jnp.zeros(16)), Dense(glorot(k2, (16, 1)), jnp.zeros(1)))


optimizer = optax.adam(1e-2, eps=1e-7)


def loss(z, y):
    return jnp.mean(jnp.square(z - y))


def is_array(v):
    return isinstance(v, (np.ndarray, np.generic, jax.Array))


@jax.jit
def train_step(model, opt_state, x, y):
    params = jax.tree.map(lambda v: v if is_array(v) else None, model)
    static = jax.tree.map(lambda v: None if is_array(v) else v, model)

    def combine(a):
        return jax.tree.map(lambda u, v: v if u is None else u, a, static, is_leaf=lambda n: n is None)

    value, grads = jax.value_and_grad(lambda p: loss(combine(p)(x), y))(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    return combine(optax.apply_updates(params, updates)), opt_state, value


def load():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    return x, np.sin(x[:, :1]).astype(np.float32)
'''

USER_WORKLOAD = """
from paritybench.adapters.arms import dense_params, own_workload
from paritybench.adapters.partitioned import partitioned_model
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "own-partitioned",
    "Does my pytree model train by my own step as by paritybench's?",
    params=dense_params((8, 16, 1)),
    head="linear",
    data=Data(source="eqx_model:load", n=64),
    training=Training(steps=20, lr=1e-2),
    jax=partitioned_model("eqx_model:build", "eqx_model:optimizer", "eqx_model:loss", "eqx_model:train_step"),
)
"""


def test_a_partitioned_workload_runs_from_the_cli_with_its_own_jitted_step(tmp_path):
    import json

    from .conftest import run_cli

    (tmp_path / "eqx_model.py").write_text(USER_MODEL)
    (tmp_path / "workload.py").write_text(USER_WORKLOAD)
    out = tmp_path / "run.json"
    proc = run_cli("run", "--workload", str(tmp_path / "workload.py"), "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = json.loads(out.read_text())
    rows = a["workload"]["weight_maps"]["jax"]["rows"]
    assert [(r["sources"][0]["name"], r["target"]["name"]) for r in rows] == [
        ("dense_0/kernel", "hidden/w"),
        ("dense_0/bias", "hidden/b"),
        ("dense_1/kernel", "out/w"),
        ("dense_1/bias", "out/b"),
    ]
    runs = {r["arm"]: r for r in a["runs"]}
    assert set(runs) == {"jax", "jax-step", "reference-f64"}
    ref = runs["reference-f64"]["final_loss"]
    for arm, r in runs.items():
        assert r["status"] == "ok" and r["curves"]["loss"][-1] < r["curves"]["loss"][0] / 2, arm
        # float32 against the float64 arbiter after 20 Adam steps: measured 1.3e-5 relative (jax, jax-step)
        assert abs(r["final_loss"] - ref) <= 1e-4 * ref, arm
    # the user's jitted equinox-style step: the same bits as the adapter's step, its losses held to paritybench's
    assert runs["jax-step"]["final_weights_sha256"] == runs["jax"]["final_weights_sha256"]
    assert runs["jax-step"]["info"]["user_step"]["agrees"], runs["jax-step"]["info"]["user_step"]


def test_a_step_returning_another_model_or_a_model_not_callable_is_one_line():
    opt = optimizer()
    inner = eqx_style_step(opt)

    def half_a_model(model, opt_state, x, y):
        new, state, loss = inner(model, opt_state, x, y)
        return new.hidden, state, loss  # a layer, not the model

    with pytest.raises(ParityError, match="returns a model of another structure") as e:
        trained(partitioned_model(build_dataclass, opt, user_loss, half_a_model), "jax-step")
    assert "\n" not in str(e.value) and "half_a_model" in str(e.value)
    with pytest.raises(ParityError, match=r"is a Net, not callable: pass apply=fn\(model, x\)") as e:
        trained(partitioned_model(build_namedtuple, opt, user_loss))
    assert "\n" not in str(e.value)
