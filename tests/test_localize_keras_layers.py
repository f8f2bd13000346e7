"""issue 18 item 4: an adapter Keras arm's forward phase shows the user's own layers, as a torch hook sees them.

The user's folder below (written to the test's folder): a Keras model (``Dense(8, tanh, name="hidden")``,
``Dense(1, name="out")``), its torch port (``nn.Linear`` modules ``hidden`` and ``out``, the tanh between them a
function) and a JAX reference whose ``layers=`` names ``hidden`` before its tanh. A Keras layer's output is its
weighted part's output, before a fused activation (``arms.keras_inspect.WeightedLayers``), so the faithful arms
never part, a port whose activation after ``hidden`` is ReLU parts at ``out`` (``hidden`` itself agrees), and a port
that reads ``hidden``'s kernel transposed parts at ``hidden``: both at step 0, forward, never at ``logits``. Before
this, a Keras arm showed ``logits`` only, and taking Keras's ``hidden`` output as is (the tanh) against torch's and
JAX's pre-activation would have parted the faithful arms at step 0. A name whose shapes differ across the sides
(own_lstm's ``rnn``: Keras's LSTM gives the last step, the JAX reference the sequence) is left out with the reason.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from paritybench.pipeline import localize

from .conftest import ROOT, run_cli

FILES = {
    "data.py": """
        import numpy as np


        def load():
            rng = np.random.default_rng(0)
            x = rng.normal(size=(64, 8)).astype(np.float32)
            return x, np.sin(x[:, :1]).astype(np.float32)
        """,
    "jax_model.py": """
        import jax
        import jax.numpy as jnp
        import optax


        def init(seed):
            k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
            glorot = jax.nn.initializers.glorot_uniform()
            return {
                "hidden": {"kernel": glorot(k1, (8, 8)), "bias": jnp.full(8, 0.1)},
                "out": {"kernel": glorot(k2, (8, 1)), "bias": jnp.zeros(1)},
            }


        def layers(params, x):
            hidden = x @ params["hidden"]["kernel"] + params["hidden"]["bias"]  # before its tanh, as Keras and torch
            return {"hidden": hidden, "out": jnp.tanh(hidden) @ params["out"]["kernel"] + params["out"]["bias"]}


        def apply(params, x):
            return layers(params, x)["out"]


        def loss(predictions, targets):
            return jnp.mean(jnp.square(predictions - targets))


        optimizer = optax.sgd(0.1)
        """,
    "torch_model.py": """
        import torch
        from torch import nn


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.Linear(8, 8)
                self.out = nn.Linear(8, 1)

            def forward(self, x):
                return self.out(torch.tanh(self.hidden(x)))


        def build():
            return Net()


        def sgd(params, lr):
            return torch.optim.SGD(params, lr=lr)


        mse = nn.MSELoss()
        """,
    "keras_model.py": '''
        import keras


        def _compiled(layers):
            model = keras.Sequential([keras.Input(shape=(8,)), *layers], name="user_model")
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
            return model


        def build(variant="faithful"):
            # "relu": the port's activation after hidden differs; hidden itself (before it) agrees
            act = "relu" if variant == "relu" else "tanh"
            return _compiled([keras.layers.Dense(8, activation=act, name="hidden"), keras.layers.Dense(1, name="out")])


        class TransposedDense(keras.layers.Layer):
            """A literal port's layer: x @ kernel.T + bias, the kernel read in torch's (out, in) layout."""

            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.units = units

            def build(self, input_shape):
                self.kernel = self.add_weight(shape=(input_shape[-1], self.units), name="kernel")
                self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

            def call(self, x):
                return keras.ops.matmul(x, keras.ops.transpose(self.kernel)) + self.bias


        def build_transposed():
            return _compiled(
                [TransposedDense(8, name="hidden"), keras.layers.Activation("tanh"), keras.layers.Dense(1, name="out")]
            )
        ''',
    "pair.py": """
        from paritybench.adapters.arms import JaxModel, TorchModel, dense_params, own_workload
        from paritybench.workloads import Data, Training


        J = "jax_model:"


        def pair(name, keras="keras_model:build", **kw):
            return own_workload(
                name,
                "Do my Keras model's layers match my torch and JAX ones?",
                params=dense_params((8, 8, 1)),
                head="linear",
                data=Data(source="data:load", n=64),
                training=Training(steps=1, lr=0.1),
                jax=JaxModel(J + "apply", J + "init", J + "optimizer", J + "loss", layers=J + "layers"),
                keras=keras,
                torch=TorchModel("torch_model:build", "torch_model:sgd", "torch_model:mse"),
                **kw,
            )
        """,
    "workload.py": """
        from dataclasses import replace

        from pair import pair

        REFERENCE = "jax"  # the test writes "keras" here for the Keras float64 arbiter
        BASE = pair("keras-layers", reference=REFERENCE)
        RELU = replace(BASE.arm("keras-tensorflow"), name="keras-relu", keras_options={"variant": "relu"})
        WORKLOAD = replace(BASE, arms=(*BASE.arms, RELU))
        """,
    "transposed.py": """
        from pair import pair

        HIDDEN = {"user_model/hidden/kernel": "dense_0/kernel", "user_model/hidden/bias": "dense_0/bias"}
        # the port's own layer type has no layout rule: its weights are named by hand
        PORT = "keras_model:build_transposed"
        WORKLOAD = pair("keras-layers-transposed", keras=PORT, keras_mapping={"overrides": HIDDEN})
        """,
}


@pytest.fixture
def folder(tmp_path):
    for name, text in FILES.items():
        (tmp_path / name).write_text(textwrap.dedent(text).lstrip())
    return tmp_path


def _localize(workload, out, *args: str) -> tuple[dict, str]:
    proc = run_cli("localize", "--workload", str(workload), "--out", str(out), *args, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return {p["a"]: p for p in json.loads(out.read_text())["pairs"]}, " ".join(proc.stdout.split())


def _forward(pair: dict, step: int = 0) -> list[str]:
    return [c["tensor"] for c in pair["checks"] if c["step"] == step and c["phase"] == "forward"]


@pytest.mark.parametrize("reference", ["jax", "keras"])
def test_keras_layers_are_compared_before_their_fused_activation_and_name_the_first_that_differs(
    folder, tmp_path, reference
):
    # the float64 arbiter: the JAX model (its layers=), or the Keras model on Keras-JAX (KerasJax.jax_layers)
    path = folder / "workload.py"
    path.write_text(path.read_text().replace('REFERENCE = "jax"', f"REFERENCE = {reference!r}"))
    pairs, text = _localize(path, tmp_path / "loc.json")
    assert json.loads((tmp_path / "loc.json").read_text())["workload"]["arbiter"]["framework"] == reference
    # the faithful arms: every side's hidden is x @ W + b, its out the model's output: nothing parts
    for arm in ("jax", "keras-tensorflow", "torch"):
        assert pairs[arm]["first"] is None, pairs[arm]["line"]
        assert _forward(pairs[arm]) == ["hidden", "out", "logits"], (arm, _forward(pairs[arm]))
        assert "left_out" not in pairs[arm]
    assert "keras-tensorflow vs reference-f64: never part" in text
    # ReLU after hidden: hidden agrees (it is taken before the activation), out is the first layer that differs
    relu = pairs["keras-relu"]
    assert (relu["first"]["step"], relu["first"]["phase"], relu["first"]["tensor"]) == (0, "forward", "out")
    hidden0 = next(c for c in relu["checks"] if c["step"] == 0 and c["tensor"] == "hidden")
    assert hidden0["ratio"] < localize.FACTOR, hidden0


def test_a_keras_port_reading_the_hidden_kernel_transposed_parts_at_hidden(folder, tmp_path):
    pairs, text = _localize(folder / "transposed.py", tmp_path / "loc.json", "--arms", "keras-tensorflow,reference-f64")
    first = pairs["keras-tensorflow"]["first"]
    assert (first["step"], first["phase"], first["tensor"]) == (0, "forward", "hidden"), first
    assert "keras-tensorflow vs reference-f64: step 0, forward, hidden" in text


def test_a_layer_whose_shapes_differ_is_left_out_with_the_reason(tmp_path):
    # own_lstm: Keras's LSTM(16) gives the last step (n, 16), the JAX reference's rnn the sequence (n, 28, 16)
    workload = ROOT / "examples" / "own_lstm" / "workload.py"
    pairs, text = _localize(workload, tmp_path / "loc.json", "--arms", "keras-tensorflow,reference-f64")
    keras = pairs["keras-tensorflow"]
    assert "rnn" not in {c["tensor"] for c in keras["checks"]}
    assert list(keras["left_out"]) == ["rnn"]
    assert "keras-tensorflow (128, 16)" in keras["left_out"]["rnn"]
    assert "reference float32 (128, 28, 16)" in keras["left_out"]["rnn"]
    assert "keras-tensorflow vs reference-f64: left out: rnn: shapes differ" in text
    # out is a Dense without an activation of its own (the softmax is in the loss): compared, and the port agrees
    assert keras["first"] is None, keras["line"]


def test_shapes_that_differ_are_not_compared_and_are_named():
    a = {"rnn": np.zeros((4, 16)), "out": np.zeros((4, 10))}
    b = {"rnn": np.zeros((4, 28, 16)), "out": np.ones((4, 10)), "extra": np.zeros(3)}
    assert localize._common(a, b) == ["out"]
    why = localize.shape_mismatches({"keras": a, "jax": b})
    assert why == {"rnn": "shapes differ (keras (4, 16), jax (4, 28, 16)): not compared"}
    r = localize.PairResult("keras", "jax", left_out=why)
    assert r.to_dict()["left_out"] == why
    assert (
        r.left_out_line() == "keras vs jax: left out: rnn: shapes differ (keras (4, 16), jax (4, 28, 16)): not compared"
    )
    # a pair with nothing left out keeps the record it had
    assert "left_out" not in localize.PairResult("a", "b").to_dict()
    assert localize.PairResult("a", "b").left_out_line() is None


BIT_FOR_BIT = textwrap.dedent(
    """
    import json

    import keras
    import numpy as np

    from paritybench.arms.keras_inspect import WeightedLayers

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input((8,)),
            keras.layers.Dense(16, activation="tanh", name="hidden"),
            keras.layers.Dense(10, activation="softmax", name="out"),
        ]
    )
    x = np.random.default_rng(0).normal(size=(32, 8)).astype("float32")
    got = {k: keras.ops.convert_to_numpy(v) for k, v in WeightedLayers(keras, model).outputs(x).items()}
    hidden, out = model.layers
    as_is = [keras.ops.convert_to_numpy(t) for t in keras.Model(model.inputs, [hidden.output, out.output])(x)]
    np_ = keras.ops.convert_to_numpy
    by_hand = np_(keras.ops.add(keras.ops.matmul(x, hidden.kernel), hidden.bias))
    print(json.dumps({
        "names": list(got),
        "hidden": bool(np.array_equal(got["hidden"], by_hand)),
        "tanh": bool(np.array_equal(np_(keras.ops.tanh(got["hidden"])), as_is[0])),
        "out": bool(np.array_equal(got["out"], np_(keras.ops.add(keras.ops.matmul(as_is[0], out.kernel), out.bias)))),
        "restored": [hidden.activation.__name__, out.activation.__name__],
    }))
    """
)


@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_a_fused_layers_output_is_its_pre_activation_bit_for_bit(backend, tmp_path):
    script = tmp_path / "bits.py"
    script.write_text(BIT_FOR_BIT)
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "KERAS_BACKEND": backend},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    # x @ kernel + bias by the backend's own ops; its tanh is the layer's own output; the activations are put back
    assert got == {
        "names": ["hidden", "out"],
        "hidden": True,
        "tanh": True,
        "out": True,
        "restored": ["tanh", "softmax"],
    }


NESTED = {
    "nested_keras.py": """
        import keras


        def build():
            # a Sequential block inside a functional model: localize shows block/hidden and block/mid
            block = keras.Sequential(
                [
                    keras.Input((8,)),
                    keras.layers.Dense(8, activation="tanh", name="hidden"),
                    keras.layers.Dense(8, activation="tanh", name="mid"),
                ],
                name="block",
            )
            x = keras.Input((8,))
            model = keras.Model(x, keras.layers.Dense(1, name="out")(block(x)), name="user_model")
            model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mse")
            return model
        """,
    "nested_torch.py": """
        import torch
        from torch import nn


        class Block(nn.Module):
            def __init__(self):
                super().__init__()
                self.hidden = nn.Linear(8, 8)
                self.mid = nn.Linear(8, 8)

            def forward(self, x):
                return torch.tanh(self.mid(torch.tanh(self.hidden(x))))


        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block()
                self.out = nn.Linear(8, 1)

            def forward(self, x):
                return self.out(self.block(x))


        def build():
            return Net()


        def sgd(params, lr):
            return torch.optim.SGD(params, lr=lr)


        mse = nn.MSELoss()
        """,
    "nested.py": """
        from paritybench.adapters.arms import TorchModel, dense_params, own_workload
        from paritybench.workloads import Data, Training

        T = ("nested_torch:build", "nested_torch:sgd", "nested_torch:mse")
        WORKLOAD = own_workload(
            "keras-nested",
            "Does my torch port match my nested Keras model layer by layer?",
            params=dense_params((8, 8, 8, 1)),
            head="linear",
            data=Data(source="data:load", n=64),
            training=Training(steps=1, lr=0.1),
            keras="nested_keras:build",
            torch={
                "torch": TorchModel(*T),
                # a literal port: the inner layer block.mid reads its (square) kernel untransposed
                "torch-literal": TorchModel(*T, mapping={"transforms": {"block.mid.weight": "identity"}}),
            },
            reference="keras",
        )
        """,
}


def test_a_nested_keras_models_inner_layers_are_compared_and_name_the_inner_layer_that_differs(folder, tmp_path):
    """A Sequential block inside a functional Keras model is its inner layers in forward order, named
    ``block/hidden``, ``block/mid`` (before their fused tanh), as the torch port's nested modules are named; before,
    the block was one layer. A torch port whose inner ``block.mid`` reads its kernel untransposed parts there, at
    step 0 in the forward phase, and ``block/hidden`` before it agrees."""
    for name, text in NESTED.items():
        (folder / name).write_text(textwrap.dedent(text).lstrip())
    pairs, text = _localize(folder / "nested.py", tmp_path / "loc.json")
    for arm in ("keras-tensorflow", "torch"):
        assert pairs[arm]["first"] is None, pairs[arm]["line"]
        assert _forward(pairs[arm]) == ["block/hidden", "block/mid", "out", "logits"], (arm, _forward(pairs[arm]))
    literal = pairs["torch-literal"]
    assert (literal["first"]["step"], literal["first"]["phase"], literal["first"]["tensor"]) == (
        0,
        "forward",
        "block/mid",
    ), literal["line"]
    hidden0 = next(c for c in literal["checks"] if c["step"] == 0 and c["tensor"] == "block/hidden")
    assert hidden0["ratio"] < localize.FACTOR, hidden0
    assert "torch-literal vs reference-f64: step 0, forward, block/mid" in text
