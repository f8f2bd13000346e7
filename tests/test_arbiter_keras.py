"""The Keras float64 arbiter (issue 18, section 3): the user's Keras factory on Keras-JAX in the harness's own
process at floatx float64 with JAX's x64 (``adapters.keras_jax``, kind ``keras-f64``), chosen by ``own_workload``'s
``reference="keras"`` or by "auto" when the workload has only a Keras model."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
import pytest

from paritybench.adapters.arms import TorchModel, dense_params, own_workload, torch_arm
from paritybench.adapters.keras_jax import KerasJax, keras_on_jax, seeded_build
from paritybench.arms import TrainSpec
from paritybench.arms.registry import kind_of
from paritybench.errors import ParityError
from paritybench.workloads import Data, Training

DECLARED = dense_params((8, 16, 1))
STEPS, LR = 20, 0.05
# Keras's Adam adds epsilon to sqrt(v) before the bias correction (keras/src/optimizers/adam.py update_step: alpha
# = lr sqrt(1 - b2^t) / (1 - b1^t), m alpha / (sqrt(v) + eps)), torch's after it (sqrt(v_hat) + eps): the same
# update for eps = 0. 1e-30 keeps a zero gradient finite and moves no float64 update (sqrt(v) here is >= 1e-6).
EPS = 1e-30


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    return x, (np.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3]).astype(np.float32)


# One model, written by the user twice: a Keras factory compiled with SGD or Adam, and a torch module.
def keras_model(opt="sgd", *extra_layers):
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(16, activation="tanh", name="hidden"),
            *extra_layers,
            keras.layers.Dense(1, name="out"),
        ]
    )
    optimizer = keras.optimizers.SGD(LR) if opt == "sgd" else keras.optimizers.Adam(LR, epsilon=EPS)
    model.compile(optimizer=optimizer, loss="mse")
    return model


def keras_sgd():
    return keras_model("sgd")


def keras_adam():
    return keras_model("adam")


def keras_dropout():
    import keras

    return keras_model("sgd", keras.layers.Dropout(0.5))


def keras_l2():
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(8,)), keras.layers.Dense(16, kernel_regularizer=keras.regularizers.L2(0.1), name="h")]
    )
    model.compile(optimizer="sgd", loss="mse")
    return model


def keras_add_loss():
    import keras

    class Penalty(keras.layers.Layer):  # no weights: the mapping is the plain MLP's
        def call(self, x):
            self.add_loss(keras.ops.mean(keras.ops.square(x)))
            return x

        def compute_output_shape(self, shape):  # so Sequential builds the Dense after it
            return shape

    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16), Penalty(), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def test_a_keras_model_that_adds_a_loss_in_its_forward_pass_is_one_line():
    import jax

    on_jax = KerasJax(keras_add_loss, DECLARED)
    w = {k: np.zeros(s, np.float64) for k, s in DECLARED.items()}
    with jax.enable_x64(True), pytest.raises(ParityError) as e:
        jax.eval_shape(on_jax.jax_apply(), w, np.zeros((2, 8)))  # as the shape check traces it, before training
    assert "\n" not in str(e.value) and "adds 1 loss(es) in its forward pass" in str(e.value), str(e.value)
    assert "reference='torch' or reference='jax'" in str(e.value)


def keras_uncompiled():
    import keras

    return keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16), keras.layers.Dense(1)])


def torch_build():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def torch_sgd(params, lr):
    import torch

    return torch.optim.SGD(params, lr=lr)


def torch_adam(params, lr):
    import torch

    return torch.optim.Adam(params, lr=lr, eps=EPS)


def torch_model(torch, opt="sgd"):
    return TorchModel(torch_build, torch_sgd if opt == "sgd" else torch_adam, torch.nn.MSELoss(), example_shape=(8,))


def workload(batch_size=None, **models):
    return own_workload(
        "keras-arbiter-test",
        "Which arbiter?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64, batch_size=batch_size),
        training=Training(steps=STEPS, lr=LR),
        **models,
    )


def test_auto_picks_keras_when_it_is_the_only_model_and_keras_is_named_beside_torch(torch):
    only = workload(keras=keras_sgd)
    ref = only.arm(only.reference)
    assert (ref.name, ref.kind, kind_of(ref).dtype) == ("reference-f64", "keras-f64", np.float64)
    assert [a.name for a in only.arms] == ["keras-tensorflow", "reference-f64"] and only.fix == "keras-tensorflow"
    assert only.describe()["arbiter"] == {
        "arm": "reference-f64",
        "framework": "keras",
        "dtype": "float64",
        "chosen": "auto",
    }
    auto = workload(keras=keras_sgd, torch=torch_model(torch))  # "auto" keeps torch where there is one
    assert auto.arm(auto.reference).kind == "torch-f64"
    named = workload(keras=keras_sgd, torch=torch_model(torch), reference="keras")
    assert named.arm(named.reference).kind == "keras-f64"
    assert named.describe()["arbiter"] == {
        "arm": "reference-f64",
        "framework": "keras",
        "dtype": "float64",
        "chosen": "keras",
    }
    # the Keras arbiter's initial weights are every arm's, the torch arm's included
    assert all(np.array_equal(named.model.init(0)[k], only.model.init(0)[k]) for k in DECLARED)


def test_without_jax_the_initial_weights_are_the_keras_models_own_after_the_seed():
    keras = keras_on_jax()
    w = workload(keras=keras_sgd)
    state = random.getstate()
    init = w.model.init(3)
    assert random.getstate() == state  # the caller's Python generator is given back as it was
    assert all(v.dtype == np.float32 and v.shape == DECLARED[k] for k, v in init.items())
    assert np.array_equal(init["dense_0/kernel"], w.model.init(3)["dense_0/kernel"])  # the seed decides them
    assert not np.array_equal(init["dense_0/kernel"], w.model.init(4)["dense_0/kernel"])
    assert np.array_equal(init["dense_1/bias"], np.zeros(1, np.float32))  # Dense's zeros bias initializer
    # the model itself, built as Keras builds it after the same seeding: its kernels are the declared ones
    model = seeded_build(keras, keras_sgd, 3)
    assert np.array_equal(init["dense_0/kernel"], np.asarray(model.get_layer("hidden").kernel))
    assert np.array_equal(init["dense_1/kernel"], np.asarray(model.get_layer("out").kernel))


def test_the_keras_arbiter_really_computes_in_float64():
    """Keras on JAX without x64 asks for float64 and gets float32: the arbiter's forward pass, loss and optimizer
    update are float64 arrays, and its model's and optimizer's variables are float64."""
    import jax

    keras = keras_on_jax()  # Keras in this process, on JAX (a plain import would take KERAS_BACKEND's or TF)
    on_jax = KerasJax(keras_adam, DECLARED)
    built = on_jax.build("float64")
    assert {str(v.dtype) for v in built.model.weights} == {"float64"}
    assert {str(v.dtype) for v in built.optimizer.variables if "float" in str(v.dtype)} == {"float64"}
    x, y = data()
    w = {k: np.asarray(v, np.float64) for k, v in workload(keras=keras_adam).model.init(0).items()}
    with jax.enable_x64(True):
        z = on_jax.jax_apply()(w, x.astype(np.float64))
        loss = on_jax.loss_fn()(z, y.astype(np.float64))
        opt = on_jax.optimizer()(LR)
        u, state = opt.update(w, opt.init(w), w)
    assert (z.dtype, loss.dtype) == (np.float64, np.float64)
    assert {a.dtype for a in u.values()} == {np.dtype(np.float64)}
    assert on_jax.build("float32").model.weights[0].dtype == "float32"  # the float32 twin: the same factory
    # Keras's own settings are given back after each call: floatx, and its float64 -> float32 promotion on JAX
    # (without that entry kept at float64 inside the arbiter's calls, a Dense(tanh) computes its tanh in float32:
    # measured 6.1e-9 from the torch float64 arbiter after 20 SGD steps instead of 1.1e-16)
    from keras.src.backend.common import dtypes

    assert (dtypes.BIT64_TO_BIT32_DTYPE["float64"], keras.config.floatx()) == ("float32", "float32")


def _final(w, arm, init, spec):
    x, y = data()
    r = kind_of(arm).train_many(w, arm, [init], x, y, spec)[0]
    return r, r.trajectory[-1]


@pytest.mark.parametrize("batch_size", [None, 16])  # full batch (arms.f64), minibatches (arms.minibatch, jitted)
@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_the_keras_and_torch_float64_arbiters_of_one_model_agree_to_float64_rounding(torch, opt, batch_size):
    w = workload(batch_size, keras=keras_sgd if opt == "sgd" else keras_adam, reference="keras")
    torch64 = torch_arm("torch-f64", torch_model(torch, opt), DECLARED, kind="torch-f64", role="reference")
    w = replace(w, arms=(*w.arms, torch64))
    init = w.model.init(0)
    spec = TrainSpec(steps=STEPS, lr=LR, keep_trajectory=True, batch_size=batch_size)
    rk, wk = _final(w, w.arm("reference-f64"), init, spec)
    rt, wt = _final(w, torch64, init, spec)
    moved = max(float(np.max(np.abs(wk[k] - init[k]))) for k in DECLARED)
    gap = max(float(np.max(np.abs(wk[k] - wt[k]))) for k in DECLARED)
    loss_gap = max(abs(a - b) for a, b in zip(rk.curves["loss"], rt.curves["loss"], strict=True))
    print(
        f"Keras-JAX f64 vs torch f64 after {STEPS} {opt} steps (batch {batch_size}): max |weight diff| {gap:.3g} "
        f"(moved {moved:.3g}), "
        f"max |loss diff| {loss_gap:.3g}"
    )
    assert moved > 1e-2  # it trained
    # Two float64 programs that sum in different orders (XLA's and torch's matmuls and means) and round Adam's
    # bias correction differently (Keras folds it into alpha, torch divides m and v) differ by float64 rounding,
    # ~1e-16 relative per operation over 20 steps on weights of size ~1 (plus the arbiter's new - w then w + u: one
    # more rounding a step). 1e-12 leaves room for that (measured: the printed gaps) and is 10^4 below a float32
    # difference (~1e-7): a Keras arbiter that ran in float32 fails here.
    assert gap < 1e-12 and loss_gap < 1e-12


def test_a_float32_keras_arm_differs_from_the_keras_float64_arbiter_by_float32_rounding():
    w = workload(keras=keras_sgd)
    init = w.model.init(0)
    spec = TrainSpec(steps=STEPS, lr=LR, keep_trajectory=True)
    ref = w.arm("reference-f64")
    twin = replace(ref, kind=kind_of(ref).float32_kind, name="keras-jax32")  # localize's noise floor: the float32 twin
    _, w32 = _final(w, twin, init, spec)
    _, w64 = _final(w, ref, init, spec)
    assert all(v.dtype == np.float32 for v in w32.values()) and all(v.dtype == np.float64 for v in w64.values())
    gap = max(float(np.max(np.abs(w32[k] - w64[k]))) for k in DECLARED)
    print(f"Keras-JAX float32 vs the Keras float64 arbiter after {STEPS} SGD steps: max |weight diff| {gap:.3g}")
    # not zero: the arbiter really ran in float64; float32-sized: float32's unit roundoff is 6e-8, accumulated
    # over 20 steps of weights of size ~1
    assert 1e-9 < gap < 1e-5


@pytest.mark.parametrize(
    ("factory", "says"),
    [
        (keras_dropout, "has non-trainable variables"),
        (keras_l2, "layer h has a kernel_regularizer"),
        (keras_uncompiled, "is not compiled with an optimizer"),
    ],
)
def test_a_keras_model_the_arbiter_cannot_run_in_float64_is_one_line_naming_the_fix(factory, says):
    with pytest.raises(ParityError) as e:
        KerasJax(factory, dense_params((8, 16)) if factory is keras_l2 else DECLARED).build("float64")
    assert "\n" not in str(e.value) and says in str(e.value), str(e.value)
    if factory is not keras_uncompiled:
        assert "reference='torch' or reference='jax'" in str(e.value)


def torch_build_relu():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def test_localize_measures_a_torch_port_against_the_keras_arbiter(torch):
    """A faithful torch port never parts from the Keras float64 arbiter (localize's floor: the Keras model on
    Keras-JAX in float32); a port with another activation parts at step 0 in the forward pass."""
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.pipeline import conventions, localize

    relu = TorchModel(torch_build_relu, torch_sgd, torch.nn.MSELoss(), example_shape=(8,))
    w = workload(keras=keras_sgd, torch={"torch": torch_model(torch), "torch-relu": relu}, reference="keras")
    assert w.arm(w.reference).kind == "keras-f64"
    x, y = data()
    ctx = localize.Context(w, LR, 2, x, y, w.model.init(0), NumericsOptions(), n=64)
    rows = conventions.collect(w, [a for a in w.arms if not kind_of(a).in_worker], LR, NumericsOptions())
    assert (rows["reference-f64"]["dtype"], rows["torch"]["dtype"]) == ("float64", "float32")
    # read from the Keras model and its compiled optimizer, as a Keras arm's rows are (not from the optax wrapper)
    ref = rows["reference-f64"]
    assert (ref["optimizer"], ref["optimizer.learning_rate"], ref["loss"]) == (
        "SGD",
        LR,
        "keras.losses.mean_squared_error",
    )
    assert ref["layer hidden dtype policy"] == "float64"
    cache: dict = {}
    same = localize.localize_pair(ctx, w.arm("torch"), w.arm("reference-f64"), cache)
    assert same.first is None, same
    parted = localize.localize_pair(ctx, w.arm("torch-relu"), w.arm("reference-f64"), cache)
    assert parted.first is not None and (parted.first.step, parted.first.phase) == (0, "forward"), parted


KERAS_DROPOUT = """
import keras


def build():
    model = keras.Sequential([keras.Input(shape=(8,)), keras.layers.Dense(16, name="hidden"), keras.layers.Dropout(0.1),
                              keras.layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss="mse")
    return model
"""

WORKLOAD = """
import numpy as np
from paritybench.adapters.arms import Data, Training, dense_params, own_workload


def load():
    x = np.random.default_rng(0).normal(size=(64, 8)).astype(np.float32)
    return x, x[:, :1].copy()


WORKLOAD = own_workload("keras-dropout", "?", params=dense_params((8, 16, 1)), head="linear",
                        data=Data(source="workload:load", n=64), training=Training(steps=3, lr=0.01),
                        keras="keras_dropout:build")
"""


def test_a_keras_model_the_arbiter_cannot_run_is_refused_before_training_in_one_line(tmp_path):
    from tests.conftest import run_cli

    (tmp_path / "keras_dropout.py").write_text(KERAS_DROPOUT)
    (tmp_path / "workload.py").write_text(WORKLOAD)
    out = tmp_path / "out.json"
    proc = run_cli("run", "--workload", str(tmp_path / "workload.py"), "--out", str(out), cwd=tmp_path)
    assert proc.returncode != 0
    err = [line for line in proc.stderr.splitlines() if line.startswith("paritybench: error:")]
    assert len(err) == 1 and "non-trainable variables" in err[0] and "reference='torch' or reference='jax'" in err[0]
    assert "Traceback" not in proc.stderr and not out.exists() and not list(tmp_path.glob("out*"))


KERAS_ON_NUMPY = """
import os, sys
os.environ["KERAS_BACKEND"] = "numpy"
import keras  # the workload file imported Keras (on another backend) before the arbiter could
from paritybench.adapters.keras_jax import keras_on_jax
from paritybench.errors import ParityError
try:
    keras_on_jax()
except ParityError as e:
    print(e)
"""


def test_keras_imported_on_another_backend_first_is_one_line_naming_the_fix():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", KERAS_ON_NUMPY], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    line = proc.stdout.strip()
    assert "\n" not in line and "already imported on 'numpy'" in line, line
    assert "keras='module:function'" in line and "reference='torch' or reference='jax'" in line, line
