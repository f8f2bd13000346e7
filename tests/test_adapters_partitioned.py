"""Equinox-style partitioned models through the JAX adapter (``paritybench.adapters.partitioned``, issue 18 item
3): a model written as a pytree object (a registered dataclass, a NamedTuple of arrays; an ``equinox.Module``
where equinox is installed, which paritybench does not require) trains, as a JaxModel, the bits the same
arithmetic written as a pure ``apply(params, x)`` over a dict trains."""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
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


def eqx_style_step(opt):
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
        loss, grads = jax.value_and_grad(lambda p: user_loss(combine(p, static)(x), y))(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return combine(optax.apply_updates(params, updates), static), opt_state, loss

    return train_step


def test_an_equinox_style_train_step_trains_the_bits_of_the_adapters_step():
    opt = optimizer()
    model = partitioned_model(build_dataclass, opt, user_loss, eqx_style_step(opt))
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


@pytest.mark.skipif(importlib.util.find_spec("equinox") is None, reason="equinox is not installed (not required)")
def test_a_real_equinox_mlp_trains_as_a_partitioned_model():
    import equinox as eqx
    import jax

    def build(seed):
        return eqx.nn.MLP(8, 1, 16, 1, activation=jax.numpy.tanh, key=jax.random.PRNGKey(seed))

    # equinox's Linear holds its weight as (out, in): declared in that layout, the mapping is a renaming
    declared = {"dense_0/kernel": (16, 8), "dense_0/bias": (16,), "dense_1/kernel": (1, 16), "dense_1/bias": (1,)}
    # an equinox MLP takes one sample: equinox users batch it with jax.vmap
    model = partitioned_model(build, optimizer(), user_loss, apply=lambda mlp, x: jax.vmap(mlp)(x))
    assert [r.target.name for r in model.weight_map(declared).rows] == [
        "layers/0/weight",
        "layers/0/bias",
        "layers/1/weight",
        "layers/1/bias",
    ]
    w = own_workload(
        "own-eqx",
        "Does an equinox MLP train?",
        params=declared,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=1e-2),
        jax=model,
    )
    init = w.model.init(0)
    x, y = data()
    run = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, TrainSpec(steps=20, lr=1e-2))[0]
    assert max(float(np.max(np.abs(run.final_weights[k] - init[k]))) for k in declared) > 1e-3
