"""An equinox port of a Keras model, mapped automatically (``adapters.partitioned``, issue 18 section 3):
``eqx.nn.Linear``'s weight is (out, in) and ``eqx.nn.Conv2d``'s OIHW with a (C, 1, 1) bias, torch's layouts, so
the declared (Keras) weights reach it transposed, as they reach a torch module; it starts from the Keras model's
outputs and trains to the weights the JAX and torch ports train to, to float32 rounding."""

from __future__ import annotations

import functools
import os
from dataclasses import replace

import numpy as np
import pytest

from paritybench.adapters.arms import TorchModel, dense_params, own_workload, torch_arm
from paritybench.adapters.partitioned import partitioned_model
from paritybench.arms import TrainSpec, jax_trainer, torch_trainer
from paritybench.errors import ParityError
from paritybench.workloads import Data, Training

from .test_adapters_arms import declared_apply, keras_convnet, torch_convnet, user_torch_adam, user_torch_model
from .test_adapters_mapping import ULPS

CONV_DECLARED = {"conv/kernel": (3, 3, 2, 3), "conv/bias": (3,), "out/kernel": (48, 4), "out/bias": (4,)}


def keras_mlp():
    import keras

    return keras.Sequential([keras.Input((8,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)])


@functools.cache
def eqx_classes():
    """The user's equinox ports, as equinox users write them: one sample in, ``jax.vmap`` outside (defined once:
    a class is part of the model's tree structure)."""
    import equinox as eqx
    import jax

    class MLP(eqx.Module):
        hidden: eqx.nn.Linear
        out: eqx.nn.Linear

        def __init__(self, key):
            k1, k2 = jax.random.split(key)
            self.hidden, self.out = eqx.nn.Linear(8, 16, key=k1), eqx.nn.Linear(16, 1, key=k2)

        def __call__(self, x):
            return self.out(jax.numpy.tanh(self.hidden(x)))

    class ConvNet(eqx.Module):
        """A channels-last sample moved to (C, H, W), as ``eqx.nn.Conv2d`` takes it; flattened channels-first."""

        conv: eqx.nn.Conv2d
        out: eqx.nn.Linear

        def __init__(self, key, channels):
            k1, k2 = jax.random.split(key)
            self.conv = eqx.nn.Conv2d(2, channels, 3, key=k1)
            self.out = eqx.nn.Linear(channels * 16, 4, key=k2)

        def __call__(self, x):
            h = jax.nn.relu(self.conv(jax.numpy.transpose(x, (2, 0, 1))))
            return self.out(h.reshape(-1))

    return MLP, ConvNet


def eqx_mlp(seed):
    import jax

    return eqx_classes()[0](jax.random.PRNGKey(seed))


def eqx_convnet(seed, channels=3):
    import jax

    return eqx_classes()[1](jax.random.PRNGKey(seed), channels)


def batched(model, x):
    import jax

    return jax.vmap(model)(x)


def conv_apply(p, x):
    """The conv model written over the declared names in Keras's layout (NHWC, HWIO): the JAX port."""
    import jax

    h = jax.lax.conv_general_dilated(x, p["conv/kernel"], (1, 1), "VALID", dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jax.nn.relu(h + p["conv/bias"]).reshape(x.shape[0], -1) @ p["out/kernel"] + p["out/bias"]


def mse(z, y):
    import jax.numpy as jnp

    return jnp.mean(jnp.square(z - y))


def mlp_data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    return x, np.sin(x[:, :1]).astype(np.float32)


def conv_data():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 6, 6, 2)).astype(np.float32)
    return x, np.tanh(x.reshape(64, 4, -1).mean(axis=2)).astype(np.float32)


CASES = {
    # declared weights, Keras factory, torch factory, equinox build, the JAX port, data, the transforms planned
    "mlp": (
        dense_params((8, 16, 1)),
        keras_mlp,
        user_torch_model,
        eqx_mlp,
        declared_apply,
        mlp_data,
        ["transpose", "identity", "transpose", "identity"],
    ),
    "conv": (
        CONV_DECLARED,
        keras_convnet,
        torch_convnet,
        eqx_convnet,
        conv_apply,
        conv_data,
        ["hwio_to_oihw", "reshape", "flatten_to_channels_first(16,3)", "identity"],
    ),
}


def adam():
    import optax

    return optax.adam(1e-2, eps=1e-7)


def eqx_model(case, build=None):
    return partitioned_model(build or CASES[case][3], adam(), mse, apply=batched)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(CASES))
def test_a_keras_model_and_its_equinox_port_map_automatically_and_start_from_the_same_outputs(case):
    """The mapping table shows the layout rules; at the same declared weights the Keras model and the equinox
    port give the same outputs to float32 rounding (step 0: no parting), and the gradient on the declared weights
    through the port is the JAX port's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
        mp.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
        import jax
        import keras

    from paritybench.adapters.arms import keras_build

    declared, keras_factory, _torch, _build, port_apply, data, transforms = CASES[case]
    model = eqx_model(case)
    wmap = model.weight_map(declared)
    print(wmap.text())
    assert [r.transform for r in wmap.rows] == transforms
    assert {r.target.framework for r in wmap.rows} == {"equinox"}
    rng = np.random.default_rng(21)
    weights = {k: rng.normal(scale=0.5, size=s).astype(np.float32) for k, s in declared.items()}
    x, y = data()
    km, variables = keras_build(keras_factory, declared)(keras)
    for k, v in variables.items():
        v.assign(weights[k])
    yk = np.asarray(km(x, training=False))
    ye = np.asarray(model.jax_apply(declared)(weights, x))
    d, scale = float(np.max(np.abs(yk - ye))), float(np.max(np.abs(yk)))
    print(f"{case}: Keras vs the equinox port, max|diff| {d:.3g} at max|y| {scale:.3g}")
    assert d <= ULPS * max(1.0, scale)

    def grads(apply):
        return jax.grad(lambda p: mse(apply(p, x), y))(weights)

    ge, gj = grads(model.jax_apply(declared)), grads(port_apply)
    for k in declared:
        assert ge[k].shape == declared[k]
        np.testing.assert_allclose(ge[k], gj[k], rtol=1e-5, atol=1e-6, err_msg=k)


@pytest.mark.parametrize("case", sorted(CASES))
def test_an_equinox_port_trains_to_the_weights_of_the_jax_and_torch_ports(torch, case):
    """20 Adam steps from the same initial weights (the equinox model's own, mapped to the declared layout): the
    equinox port, the JAX port over the declared names and the torch module end at the same weights to float32
    rounding."""
    declared, _keras, torch_factory, _build, port_apply, data, _t = CASES[case]
    w = own_workload(
        "own-eqx-port",
        "Does my equinox port train like my JAX and torch ports?",
        params=declared,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=1e-2),
        jax=eqx_model(case),
    )
    init = w.model.init(0)
    x, y = data()
    spec = TrainSpec(steps=20, lr=1e-2)
    ours = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, spec)[0]
    # the JAX port: the same arm with the port's apply over the declared names and optax's Adam on them
    port = replace(w.arm("jax"), name="jax-port", jax_apply=port_apply, optimizer=lambda lr: adam(), jax_layers=None)
    tm = TorchModel(torch_factory, user_torch_adam, torch.nn.MSELoss(), example_shape=x.shape[1:])
    arm = torch_arm("torch", tm, declared)
    w2 = replace(w, arms=(*w.arms, port, arm))
    theirs = jax_trainer.train_many(w2, port, [init], x, y, spec)[0]
    rt = torch_trainer.train_many(w2, arm, [init], x, y, spec)[0]
    moved = max(float(np.max(np.abs(ours.final_weights[k] - init[k]))) for k in declared)
    gaps = {
        name: max(float(np.max(np.abs(ours.final_weights[k] - r.final_weights[k]))) for k in declared)
        for name, r in (("jax", theirs), ("torch", rt))
    }
    print(f"{case}: the equinox port moved {moved:.3g}; its final weights vs the JAX and torch ports: {gaps}")
    assert moved > 1e-2
    assert gaps["jax"] < 1e-5 and gaps["torch"] < 1e-5, gaps


def test_an_equinox_port_of_another_shape_is_one_line_naming_both_sides():
    model = eqx_model("conv", lambda seed: eqx_convnet(seed, channels=4))
    with pytest.raises(ParityError) as e:
        model.weight_map(CONV_DECLARED)
    msg = str(e.value)
    print(msg)
    assert "\n" not in msg
    assert "'conv/kernel' (3, 3, 2, 3)" in msg and "equinox 'conv/weight' (4, 2, 3, 3)" in msg and "overrides=" in msg


def test_equinox_layer_norm_embedding_and_lstm_cell_read_in_their_own_layouts():
    """A table-level check of the other equinox layers with a rule: ``Embedding`` and ``LayerNorm`` are Keras's
    layouts (identity), ``LSTMCell`` Keras's LSTM transposed with its one bias as it is."""
    import equinox as eqx
    import jax

    class Seq(eqx.Module):
        emb: eqx.nn.Embedding
        norm: eqx.nn.LayerNorm
        cell: eqx.nn.LSTMCell
        out: eqx.nn.Linear

        def __init__(self, key):
            k = jax.random.split(key, 3)
            self.emb = eqx.nn.Embedding(10, 3, key=k[0])
            self.norm = eqx.nn.LayerNorm(3)
            self.cell = eqx.nn.LSTMCell(3, 4, key=k[1])
            self.out = eqx.nn.Linear(4, 2, key=k[2])

    declared = {
        "emb/embedding": (10, 3),
        "norm/scale": (3,),
        "norm/bias": (3,),
        "rnn/kernel": (3, 16),
        "rnn/recurrent_kernel": (4, 16),
        "rnn/bias": (16,),
        "out/kernel": (4, 2),
        "out/bias": (2,),
    }
    model = partitioned_model(lambda seed: Seq(jax.random.PRNGKey(seed)), adam(), mse, apply=batched)
    rows = [(r.target.name, r.target.layer_type, r.transform) for r in model.weight_map(declared).rows]
    assert rows == [
        ("emb/weight", "embedding", "identity"),
        ("norm/weight", "layernorm", "identity"),
        ("norm/bias", "layernorm", "identity"),
        ("cell/weight_ih", "lstm", "transpose"),
        ("cell/weight_hh", "lstm", "transpose"),
        ("cell/bias", "lstm", "identity"),
        ("out/weight", "dense", "transpose"),
        ("out/bias", "dense", "identity"),
    ]


USER_FILES = {
    "data.py": """
        import numpy as np


        def load():
            rng = np.random.default_rng(1)
            x = rng.normal(size=(64, 6, 6, 2)).astype(np.float32)
            return x, np.tanh(x.reshape(64, 4, -1).mean(axis=2)).astype(np.float32)
        """,
    "keras_model.py": """
        import keras


        def build():
            model = keras.Sequential(
                [
                    keras.Input((6, 6, 2)),
                    keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
                    keras.layers.Flatten(),
                    keras.layers.Dense(4, name="out"),
                ]
            )
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.05), loss="mse")
            return model
        """,
    "eqx_model.py": """
        import equinox as eqx
        import jax
        import jax.numpy as jnp
        import optax


        class ConvNet(eqx.Module):
            conv: eqx.nn.Conv2d
            out: eqx.nn.Linear

            def __init__(self, key):
                k1, k2 = jax.random.split(key)
                self.conv = eqx.nn.Conv2d(2, 3, 3, key=k1)
                self.out = eqx.nn.Linear(48, 4, key=k2)

            def __call__(self, x):  # one channels-last sample
                return self.out(jax.nn.relu(self.conv(jnp.transpose(x, (2, 0, 1)))).reshape(-1))


        def build(seed):
            return ConvNet(jax.random.PRNGKey(seed))


        def forward(model, x):
            return jax.vmap(model)(x)


        def loss(z, y):
            return jnp.mean(jnp.square(z - y))


        optimizer = optax.sgd(0.05)
        """,
    "workload.py": """
        from paritybench.adapters.arms import own_workload
        from paritybench.adapters.partitioned import partitioned_model
        from paritybench.workloads import Data, Training

        E = "eqx_model:"
        WORKLOAD = own_workload(
            "own-eqx-keras",
            "Does my equinox port train like my Keras model?",
            params={"conv/kernel": (3, 3, 2, 3), "conv/bias": (3,), "out/kernel": (48, 4), "out/bias": (4,)},
            head="linear",
            data=Data(source="data:load", n=64),
            training=Training(steps=3, lr=0.05),
            jax=partitioned_model(E + "build", E + "optimizer", E + "loss", apply=E + "forward"),
            keras="keras_model:build",
            reference="keras",
        )
        """,
}


@pytest.mark.slow
def test_localize_finds_no_parting_between_a_keras_model_and_its_equinox_port(tmp_path):
    """From the CLI: a Keras conv model (the float64 arbiter, on Keras-JAX) and its equinox port, mapped
    automatically, never part in localize (step 0's forward phase included), nor does the Keras arm."""
    import json
    import textwrap

    from .conftest import ROOT, run_cli

    for name, text in USER_FILES.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    out = tmp_path / "loc.json"
    proc = run_cli("localize", "--workload", str(tmp_path / "workload.py"), "--out", str(out), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    print(proc.stdout)
    assert "hwio_to_oihw" in proc.stderr and "flatten_to_channels_first(16,3)" in proc.stderr, proc.stderr[-3000:]
    pairs = {p["a"]: p for p in json.loads(out.read_text())["pairs"]}
    for arm in ("jax", "keras-tensorflow"):
        assert pairs[arm]["first"] is None, pairs[arm]["line"]
        assert any(c["step"] == 0 and c["phase"] == "forward" for c in pairs[arm]["checks"]), arm


def test_a_port_that_flattens_channels_last_is_settled_by_the_documented_override():
    """The flatten rule assumes equinox's (C, H, W) map flattened as it lies; a port that moves the channels last
    before flattening (a literal copy of Keras's Flatten) takes ``transforms={"out/weight": "transpose"}`` and then
    gives the JAX port's outputs, which the automatic rule does not."""
    import jax

    ConvNet = eqx_classes()[1]

    def channels_last(model, x):
        def one(s):
            h = jax.nn.relu(model.conv(jax.numpy.transpose(s, (2, 0, 1))))
            return model.out(jax.numpy.transpose(h, (1, 2, 0)).reshape(-1))

        return jax.vmap(one)(x)

    def build(seed):
        return ConvNet(jax.random.PRNGKey(seed), 3)

    rng = np.random.default_rng(5)
    weights = {k: rng.normal(scale=0.5, size=s).astype(np.float32) for k, s in CONV_DECLARED.items()}
    x, _y = conv_data()
    want = np.asarray(conv_apply(weights, x))
    gaps = {}
    for how, mapping in (("auto", None), ("override", {"transforms": {"out/weight": "transpose"}})):
        model = partitioned_model(build, adam(), mse, apply=channels_last, mapping=mapping)
        gaps[how] = float(np.max(np.abs(np.asarray(model.jax_apply(CONV_DECLARED)(weights, x)) - want)))
    print(gaps)
    assert gaps["override"] <= ULPS * max(1.0, float(np.max(np.abs(want)))) < 1e-2 < gaps["auto"], gaps
