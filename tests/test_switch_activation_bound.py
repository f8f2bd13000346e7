"""The activation switches see a function the forward pass bound before it ran: a ``functools.partial`` of
``jax.nn.leaky_relu`` held in a closure (as a module-level one is, in leaky-relu-slope's JAX model) and a name
imported from ``jax.nn`` (a global of this module), on pairs whose slope only this test knows."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest

from paritybench.workloads import Arm, Data, Model, Training, Workload

MLP = {"h/kernel": (784, 16), "h/bias": (16,), "out/kernel": (16, 10), "out/bias": (10,)}
leaky_relu = None  # ``from jax.nn import leaky_relu``, done by the fixture (no framework at collection)


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    return {
        k: (rng.normal(0, 0.08, s) if k.endswith("kernel") else np.zeros(s)).astype(np.float32) for k, s in MLP.items()
    }


def _with(act):
    def apply_with(p, x):
        return act(x @ p["h/kernel"] + p["h/bias"]) @ p["out/kernel"] + p["out/bias"]

    return apply_with


def imported(p, x):
    """The global ``leaky_relu`` (bound from jax.nn), at slope 0.05."""
    return _with(lambda h: leaky_relu(h, negative_slope=0.05))(p, x)


def ce(z, y):
    import jax

    return -(y * jax.nn.log_softmax(z)).sum(-1)


@pytest.fixture(scope="module")
def workload():
    import jax

    globals()["leaky_relu"] = jax.nn.leaky_relu
    bound = _with(partial(jax.nn.leaky_relu, negative_slope=0.2))  # bound before explain runs
    plain = _with(lambda h: jax.nn.leaky_relu(h))  # looked up when called: slope 0.01

    def arm(name, apply, kind="jax"):
        role = "reference" if kind == "f64" else None
        return Arm(name, name, kind, name, loss_fn=ce, jax_apply=apply, requires=("jax", "optax"), role=role)

    return Workload(
        name="hidden-bound-slope",
        version="1",
        question="Which one mechanism parts the pair?",
        sources=(),
        data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
        training=Training(steps=1, lr=0.1),
        model=Model(params=MLP, head="softmax", init=init, jax_apply=plain, keras_build="unused:build"),
        arms=(arm("a-bound", bound), arm("a-imported", imported), arm("reference-f64", plain, "f64")),
        fix="reference-f64",
    )


def _explain(w, a, b):
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import conventions, explain, localize

    x, y = data.window(data.load_mnist(), 0, 64, True, labels="onehot10")
    ctx = localize.Context(w, w.training.lr, 1, x, y, copy_weights(init(0), MLP), NumericsOptions(), n=64)
    rows = conventions.collect(w, w.arms, w.training.lr, NumericsOptions())
    return explain.explain_pair(ctx, w.arm(a), w.arm(b), rows, {}).to_dict()


@pytest.mark.parametrize("a", ["a-bound", "a-imported"])
def test_a_bound_slope_is_read_named_first_and_closes(workload, a):
    p = _explain(workload, a, "reference-f64")
    assert p["parted"] is not None, p
    top = p["switches"][0]
    assert top["name"] == "leaky relu slope" and top["closes"], p["switches"]
    assert top["ratio_after"] < 100 < top["ratio_before"]


def test_the_reader_restores_the_bindings(workload):
    import jax

    from paritybench.switches import Target, activation, leaky_relu_slope

    bound = workload.arm("a-bound").jax_apply
    t = Target(workload, workload.arm("reference-f64"), {}, {}, 0.1, np.ones((8, 784)), np.zeros((8, 10)), init(0))
    kw = leaky_relu_slope.SLOPE
    assert activation.read(kw, workload.arm("a-bound"), "jax", t) == [kw.jax_common(0.2)]
    assert activation.read(kw, workload.arm("a-imported"), "jax", t) == [kw.jax_common(0.05)]
    cell = bound.__closure__[0].cell_contents
    assert isinstance(cell, partial) and cell.func is jax.nn.leaky_relu and leaky_relu is jax.nn.leaky_relu
