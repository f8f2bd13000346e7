"""issue 18 item 4: localize compares a model's named layers in forward order, whatever their names.

The workload below is a user's own file (written to the test's folder): two hidden tanh layers whose names sort
opposite to forward order (``z_first`` runs before ``a_second``), declared for JAX (``jax_layers``), Keras
(``keras_layers``, given in the opposite dict order on purpose: the Keras model's own layer order decides) and
torch (``torch_layers``). Each framework has a literal port that differs only in the first layer (ReLU for tanh),
so at step 0 both layers part from the arbiter: the first parting must name ``z_first``. Before the fix, JAX's
jit returned the layer dict in sorted key order (jax/_src/tree_util.py flattens a dict as ``sorted(xs.items())``),
localize followed it and blamed ``a_second``, and a torch arm showed its logits only."""

from __future__ import annotations

import json
import textwrap

import numpy as np
import pytest

from tests.conftest import run_cli

WORKLOAD = textwrap.dedent(
    '''
    """Two hidden layers named against forward order; each framework's literal port reads ReLU for the first tanh."""

    import numpy as np

    from paritybench.workloads import Arm, Data, Model, Training, Workload

    SIZES = {"z_first": (784, 16), "a_second": (16, 8), "out": (8, 10)}
    PARAMS = {}
    for name, (a, b) in SIZES.items():
        PARAMS[f"{name}/kernel"] = (a, b)
        PARAMS[f"{name}/bias"] = (b,)


    def init(seed, threefry_partitionable=False):
        rng = np.random.default_rng(seed)
        return {
            k: (rng.uniform(-0.3, 0.3, s) if k.endswith("kernel") else np.full(s, 0.1)).astype(np.float32)
            for k, s in PARAMS.items()
        }


    def _layers(p, x, first):
        import jax.numpy as jnp

        act = {"tanh": jnp.tanh, "relu": lambda h: jnp.maximum(h, 0.0)}[first]
        h1 = act(x @ p["z_first/kernel"] + p["z_first/bias"])
        h2 = jnp.tanh(h1 @ p["a_second/kernel"] + p["a_second/bias"])
        return {"z_first": h1, "a_second": h2}


    def jax_layers(p, x):
        return _layers(p, x, "tanh")


    def jax_apply(p, x):
        return jax_layers(p, x)["a_second"] @ p["out/kernel"] + p["out/bias"]


    def port_layers(p, x):
        return _layers(p, x, "relu")


    def port_apply(p, x):
        return port_layers(p, x)["a_second"] @ p["out/kernel"] + p["out/bias"]


    def _torch_layers(p, x, first):
        import torch

        h1 = getattr(torch, first)(x @ p["z_first/kernel"] + p["z_first/bias"])
        h2 = torch.tanh(h1 @ p["a_second/kernel"] + p["a_second/bias"])
        return {"z_first": h1, "a_second": h2}


    def torch_layers(p, x):
        return _torch_layers(p, x, "tanh")


    def torch_apply(p, x):
        return torch_layers(p, x)["a_second"] @ p["out/kernel"] + p["out/bias"]


    def torch_port_layers(p, x):
        return _torch_layers(p, x, "relu")


    def torch_port_apply(p, x):
        return torch_port_layers(p, x)["a_second"] @ p["out/kernel"] + p["out/bias"]


    def keras_build(keras, first="tanh"):
        model = keras.Sequential(
            [
                keras.Input(shape=(784,)),
                keras.layers.Dense(16, activation=first, name="z_first"),
                keras.layers.Dense(8, activation="tanh", name="a_second"),
                keras.layers.Dense(10, activation="softmax", name="out"),
            ]
        )
        return model, {f"{l.name}/{v}": getattr(l, v) for l in model.layers for v in ("kernel", "bias")}


    def ce(z, y):
        import optax

        return optax.softmax_cross_entropy(z, y)


    def torch_ce(z, y):
        import torch.nn.functional as F

        return F.cross_entropy(z, y)


    def keras_ce(keras):
        return keras.losses.categorical_crossentropy


    def torch_sgd(params, lr):
        import torch

        return torch.optim.SGD(list(params.values()), lr=lr)


    WORKLOAD = Workload(
        name="layer-order",
        version="1",
        question="Is a port's first differing layer named first, whatever the layers are called?",
        sources=(),
        data=Data(dataset="mnist", labels="onehot10", n=100, normalize=True),
        training=Training(steps=2, lr=0.1),
        model=Model(
            params=PARAMS,
            head="softmax",
            init=init,
            jax_apply=jax_apply,
            keras_build=keras_build,
            jax_layers=jax_layers,
            keras_layers={"a_second": 1, "z_first": 0},
            torch_apply=torch_apply,
            torch_layers=torch_layers,
        ),
        arms=(
            Arm("jax-port", "ReLU for the first tanh", "jax", "ce", loss_fn=ce, jax_apply=port_apply,
                jax_layers=port_layers, requires=("jax", "optax"), role="port"),
            Arm("jax-faithful", "the reference in float32", "jax", "ce", loss_fn=ce, requires=("jax", "optax"),
                role="fix"),
            Arm("keras-port", "ReLU for the first tanh", "keras", "keras:tensorflow", process="keras-tensorflow",
                keras_loss=keras_ce, keras_options={"first": "relu"}, requires=("keras", "tensorflow"),
                role="keras"),
            Arm("torch-port", "ReLU for the first tanh", "torch", "torch-ce", torch_loss=torch_ce,
                torch_optimizer=torch_sgd, torch_apply=torch_port_apply, torch_layers=torch_port_layers,
                requires=("torch",), role="port"),
            Arm("torch-faithful", "the model's torch forward pass", "torch", "torch-ce", torch_loss=torch_ce,
                torch_optimizer=torch_sgd, requires=("torch",), role="port"),
            Arm("reference-f64", "float64", "f64", "ce-f64", loss_fn=ce, requires=("jax", "optax"),
                role="reference"),
        ),
        fix="jax-faithful",
    )
    '''
)


@pytest.fixture
def workload_file(tmp_path):
    path = tmp_path / "layer_order.py"
    path.write_text(WORKLOAD)
    return path


def _localize(workload, arms: list[str], steps: int = 1):
    """In-process localize of each named (main-process) arm against the reference (``--arms`` of three or more,
    the reference among them), on MNIST's first window; ``workload``: a file or a built-in's name."""
    from paritybench import workloads
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import localize
    from paritybench.workloads import resolve_ref

    w = workloads.load(str(workload))
    x, y = data.window(data.load_mnist(), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    init = copy_weights(resolve_ref(w.model.init)(0, False), w.model.params)
    ctx = localize.Context(w, w.training.lr, steps, x, y, init, NumericsOptions(), n=w.data.n, normalize=True)
    cache: dict = {}
    return {a.name: localize.localize_pair(ctx, a, b, cache) for a, b in localize.pairs_for(w, tuple(arms))}


def _forward(result) -> list[str]:
    """The forward phase's tensors at step 0, in the order localize checked them."""
    return [c.tensor for c in result.checks if c.step == 0 and c.phase == "forward"]


def test_jax_port_parts_at_the_first_layer_in_forward_order(workload_file):
    r = _localize(workload_file, ["jax-port", "jax-faithful", "reference-f64"])
    port = r["jax-port"]
    assert _forward(port) == ["z_first", "a_second", "logits"], _forward(port)
    f = port.first
    assert (f.step, f.phase, f.tensor) == (0, "forward", "z_first"), port.line()
    # the second layer parts too (it reads the first): listed after it, in forward order
    assert port.parted_tensors[:2] == ["z_first", "a_second"], port.line()
    assert r["jax-faithful"].first is None, r["jax-faithful"].line()


def test_jax_layers_keep_the_declared_order_through_jit():
    """The mechanism: jit returns a dict in sorted key order; ``ForwardOrder`` restores the function's own."""
    import jax
    import jax.numpy as jnp

    from paritybench.arms.jax_trainer import ForwardOrder

    def layers(x):
        return {"z_first": x, "a_second": x + 1, "m_third": x + 2}

    assert list(jax.jit(layers)(jnp.ones(2))) == ["a_second", "m_third", "z_first"]  # JAX's own order
    order = ForwardOrder(layers)
    out = order.named(jax.jit(order.values)(jnp.ones(2)))
    assert list(out) == ["z_first", "a_second", "m_third"]
    assert np.array_equal(out["a_second"], np.full(2, 2.0))


def test_torch_port_parts_at_the_first_layer(workload_file):
    pytest.importorskip("torch")
    r = _localize(workload_file, ["torch-port", "torch-faithful", "reference-f64"])
    port = r["torch-port"]
    assert _forward(port) == ["z_first", "a_second", "logits"], _forward(port)
    f = port.first
    assert (f.step, f.phase, f.tensor) == (0, "forward", "z_first"), port.line()
    faithful = r["torch-faithful"]
    assert _forward(faithful) == ["z_first", "a_second", "logits"], _forward(faithful)
    assert faithful.first is None, faithful.line()


def test_keras_port_parts_at_the_first_layer_in_the_models_order(workload_file, tmp_path):
    """Through the CLI: the Keras worker records the named layers in the model's layer order (the declaration
    lists ``a_second`` first), and the table and the record name the first layer."""
    out = tmp_path / "loc.json"
    proc = run_cli(
        "localize", "--workload", str(workload_file), "--arms", "keras-port", "--steps", "1", "--out", str(out)
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (pair,) = json.loads(out.read_text())["pairs"]
    forward = [c["tensor"] for c in pair["checks"] if c["step"] == 0 and c["phase"] == "forward"]
    assert forward == ["z_first", "a_second", "logits"], forward
    f = pair["first"]
    assert (f["step"], f["phase"], f["tensor"]) == (0, "forward", "z_first"), pair["line"]
    assert "keras-port vs reference-f64: step 0, forward, z_first" in proc.stdout
    # the plot's forward panel draws the layers in the record's (forward) order
    from paritybench.analysis import localize_plot

    (forward_panel,) = [p for p in localize_plot.layout(json.loads(out.read_text())).panels if p.phase == "forward"]
    assert list(forward_panel.series) == ["z_first", "a_second", "logits"], list(forward_panel.series)


def test_same_padding_torch_port_is_located_at_its_convolution():
    """A built-in torch port: ``torch-conv-pad1`` (``padding=1``) parts at step 0 at the convolution's output, then
    its ReLU and the logits, as its JAX twin ``jax-torch-pad`` does; the torch fix's named layers (NHWC, the
    declared layout, as JAX's) stay at the floor."""
    pytest.importorskip("torch")
    from paritybench.pipeline.localize import FACTOR

    r = _localize("same-padding", ["torch-conv-pad1", "torch-same-pad", "reference-f64"])
    port, fix = r["torch-conv-pad1"], r["torch-same-pad"]
    f = port.first
    assert (f.step, f.phase, f.tensor) == (0, "forward", "conv"), port.line()
    assert port.parted_tensors == ["conv", "conv/relu", "logits"], port.line()
    assert _forward(fix) == ["conv", "conv/relu", "logits"], _forward(fix)
    assert fix.first is None and fix.max_ratio < FACTOR, fix.line()


@pytest.mark.parametrize(
    "arm,field,message",
    [
        ("keras-port", "torch_layers", "torch_layers is a torch arm's; a keras arm's named layers are the model's"),
        ("jax-port", "torch_layers", "torch_layers is a torch arm's; a jax arm's named layers are jax_layers"),
        ("torch-port", "jax_layers", "jax_layers is a JAX or f64 arm's; a torch arm's named layers are torch_layers"),
    ],
)
def test_named_layers_on_another_kind_are_refused(workload_file, arm, field, message):
    """A layer function the arm's kind never reads is refused at load, never ignored."""
    from dataclasses import replace

    from paritybench import workloads
    from paritybench.errors import ParityError
    from paritybench.workloads.base import check

    w = workloads.load(str(workload_file))
    arms = tuple(
        replace(a, **{field: "paritybench.workloads.kit.jax:tanh_layers"}) if a.name == arm else a for a in w.arms
    )
    with pytest.raises(ParityError, match=message):
        check(replace(w, arms=arms), "test")


def test_a_builtin_mlp_torch_arm_shows_its_layers_and_still_parts_in_the_update():
    """adam-epsilon's torch-adam (torch.optim.Adam, eps on sqrt(v_hat)): its named layers (``kit.torch.tanh_layers``,
    the twin of JAX's) are compared and stay at the floor (measured 0.82-0.87x at steps 0-1); its first parting is
    still the update, as its optax twin jax-adam-literal's."""
    pytest.importorskip("torch")
    from paritybench.pipeline.localize import FACTOR

    r = _localize("adam-epsilon", ["torch-adam", "reference-f64", "jax-adam-literal"])["torch-adam"]
    assert _forward(r) == ["dense_0", "dense_0/tanh", "logits"], _forward(r)
    assert all(c.ratio < FACTOR for c in r.checks if c.phase == "forward"), r.line()
    f = r.first
    assert (f.step, f.phase, f.tensor) == (0, "update", "dense_0/kernel"), r.line()
