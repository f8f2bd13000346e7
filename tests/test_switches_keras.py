"""Switches on a Keras arm (``switches.keras_edits``: the worker rebuilds its layers or optimizer with the other
arm's setting): a user's Keras model against their JAX port, the port the float64 arbiter, which explain never
switches. Each pair differs in one convention, known only to the test: explain must name it first, it must close
the gap, and no other narrow switch may. Fast tests: the Keras appliers' reading of the arm's conventions rows."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from paritybench.switches import SWITCHES, Refusal, Target, keras_edits
from paritybench.workloads.base import Arm, KerasEdit
from tests.conftest import run_cli

DATA = """
import numpy as np


def load():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 8)).astype(np.float32)
    y = (np.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3]).astype(np.float32)
    return x, y
"""
KERAS = """
import keras


def build_model():
    model = keras.Sequential(
        [
            keras.Input(shape=(8,)),
            keras.layers.Dense(16, name="hidden"DTYPE),
            ACTIVATION,
            keras.layers.Dense(1, name="out"DTYPE),
        ]
    )
    model.compile(optimizer=OPTIMIZER, loss=LOSS)
    return model
"""
JAX = """
import jax
import jax.numpy as jnp
import optax


def init(seed):
    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    glorot = jax.nn.initializers.glorot_uniform()
    hidden = {"w": glorot(k1, (8, 16)), "b": jnp.zeros(16)}
    return {"hidden": hidden, "out": {"w": glorot(k2, (16, 1)), "b": jnp.zeros(1)}}


def apply(params, x):
    return ACTIVATION(x @ params["hidden"]["w"] + params["hidden"]["b"]) @ params["out"]["w"] + params["out"]["b"]


def loss(predictions, targets):
    return jnp.mean(jnp.square(predictions - targets))


optimizer = OPTIMIZER
"""
WORKLOAD = """
from paritybench.adapters.arms import JaxModel, dense_params, own_workload
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "keras-switched",
    "Does my JAX port train like my Keras model?",
    params=dense_params((8, 16, 1)),
    head="linear",
    data=Data(source="data:load", n=128),
    training=Training(steps=3, lr=0.05),
    jax=JaxModel("jax_model:apply", "jax_model:init", "jax_model:optimizer", "jax_model:loss"),
    keras="keras_model:build_model",
    backend="jax",
)
"""
# (Keras activation layer, Keras optimizer, JAX activation, optax optimizer): one convention differs
PAIRS = {
    # keras.layers.LeakyReLU() slopes 0.3 (keras/src/layers/activations/leaky_relu.py), jax.nn.leaky_relu 0.01
    "leaky relu slope": (
        "keras.layers.LeakyReLU()",
        "keras.optimizers.SGD(learning_rate=0.05)",
        "jax.nn.leaky_relu",
        "optax.sgd(0.05)",
    ),
    # Keras's SGD momentum without Nesterov's look-ahead, optax's with it
    "nesterov": (
        'keras.layers.Activation("tanh")',
        "keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)",
        "jnp.tanh",
        "optax.sgd(0.05, momentum=0.9, nesterov=True)",
    ),
    # Keras's MeanSquaredError summed over the batch (reduction="sum"), the port's jnp.mean
    "loss reduction": (
        'keras.layers.Activation("tanh")',
        "keras.optimizers.SGD(learning_rate=0.05)",
        "jnp.tanh",
        "optax.sgd(0.05)",
        'keras.losses.MeanSquaredError(reduction="sum")',
    ),
    # the port decays its weights (coupled, lam 0.1: plain SGD's step is the same decoupled), the Keras model does not
    "weight decay coefficient": (
        'keras.layers.Activation("tanh")',
        "keras.optimizers.SGD(learning_rate=0.05)",
        "jnp.tanh",
        "optax.chain(optax.add_decayed_weights(0.1), optax.sgd(0.05))",
    ),
    # Keras's Dense layers under the mixed_bfloat16 policy (float32 variables, bfloat16 compute), the port in float32
    "compute dtype": (
        'keras.layers.Activation("tanh", dtype="mixed_bfloat16")',
        "keras.optimizers.SGD(learning_rate=0.05)",
        "jnp.tanh",
        "optax.sgd(0.05)",
        '"mse"',
        ', dtype="mixed_bfloat16"',
    ),
    # SGD momentum under a learning-rate schedule (0.05, 0.05, 0.02, 0.1): Keras's velocity takes each step's rate
    # before the buffer (v = m v - lr g), optax's trace after it (w -= lr b)
    "momentum learning-rate placement": (
        'keras.layers.Activation("tanh")',
        "keras.optimizers.SGD(keras.optimizers.schedules.PiecewiseConstantDecay([1, 2], [0.05, 0.02, 0.1]), "
        "momentum=0.9)",
        "jnp.tanh",
        "optax.sgd(optax.piecewise_constant_schedule(0.05, {2: 0.4, 3: 5.0}), momentum=0.9)",
    ),
    # Keras's activation="gelu" is exact (erf), jax.nn.gelu's default the tanh form
    "gelu approximation": (
        'keras.layers.Activation("gelu")',
        "keras.optimizers.SGD(learning_rate=0.05)",
        "jax.nn.gelu",
        "optax.sgd(0.05)",
    ),
    # Keras's Adam adds epsilon to the uncorrected sqrt(v), optax's to sqrt(v_hat) (a large epsilon: it shows)
    "adam epsilon placement": (
        'keras.layers.Activation("tanh")',
        "keras.optimizers.Adam(learning_rate=0.01, epsilon=1e-3)",
        "jnp.tanh",
        "optax.adam(0.01, eps=1e-3)",
    ),
}


def _write(
    folder: Path, keras_act: str, keras_opt: str, jax_act: str, jax_opt: str, loss: str = '"mse"', dtype: str = ""
) -> Path:
    folder.mkdir()
    (folder / "data.py").write_text(DATA)
    keras_model = KERAS.replace("ACTIVATION", keras_act).replace("OPTIMIZER", keras_opt).replace("LOSS", loss)
    keras_model = keras_model.replace("DTYPE", dtype)
    (folder / "keras_model.py").write_text(keras_model)
    (folder / "jax_model.py").write_text(JAX.replace("ACTIVATION", jax_act).replace("OPTIMIZER", jax_opt))
    (folder / "workload.py").write_text(WORKLOAD)
    return folder / "workload.py"


@pytest.mark.parametrize("cause", sorted(PAIRS))
def test_a_keras_arm_is_switched_to_its_jax_ports_convention_and_that_switch_alone_closes(tmp_path, cause):
    spec = _write(tmp_path / "user", *PAIRS[cause])
    out = tmp_path / "explain.json"
    proc = run_cli("explain", "--workload", str(spec), "--arms", "keras-jax", "--steps", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (pair,) = json.loads(out.read_text())["pairs"]
    assert (pair["a"], pair["b"]) == ("keras-jax", "reference-f64")
    assert pair["parted"] is not None and pair["parted"]["ratio"] > 1e3, pair["parted"]
    top = pair["switches"][0]
    assert top["name"] == cause and top["closes"] and top["applied_to"] == "keras-jax", pair["switches"][:3]
    assert top["ratio_before"] > 1e3 and top["ratio_after"] < 100, top
    others = [s for s in pair["switches"][1:] if s["refused"] is None]
    assert not any(s["closes"] for s in others), others
    assert f"{cause} closes the gap" in pair["verdict"]


def _target(rows_self: dict, rows_other: dict | None = None) -> Target:
    other = Arm("ref", "", "f64", "mse")
    z = np.zeros((1, 1), np.float32)
    return Target(None, other, rows_self, rows_other or {}, 0.1, z, z, {})  # type: ignore[arg-type]


KERAS_ARM = Arm.keras("jax", "", "m:loss")


def test_a_layer_edit_is_refused_where_the_rows_show_no_such_layer_or_the_value_already():
    rows = {"layer leaky_re_lu negative_slope": 0.3, "layer hidden activation": "linear"}
    switched = keras_edits.layer(KERAS_ARM, _target(rows), "LeakyReLU", "negative_slope", 0.01, "slope")
    assert switched.keras_edits == (KerasEdit("layer", "LeakyReLU", "negative_slope", 0.01),)
    assert switched.name == KERAS_ARM.name and switched.keras_options == KERAS_ARM.keras_options
    with pytest.raises(Refusal, match="already"):
        keras_edits.layer(KERAS_ARM, _target(rows), "LeakyReLU", "negative_slope", 0.3, "slope")
    with pytest.raises(Refusal, match="no layer with the setting epsilon"):
        keras_edits.layer(KERAS_ARM, _target(rows), "BatchNormalization", "epsilon", 1e-5, "epsilon")
    # rows not read: edited all the same (the worker refuses an edit no layer takes)
    assert keras_edits.layer(KERAS_ARM, _target({}), "BatchNormalization", "epsilon", 1e-5, "eps").keras_edits


def test_an_optimizer_edit_is_refused_for_another_class_a_missing_key_or_the_same_value():
    rows = {"optimizer": "SGD", "optimizer.nesterov": False, "optimizer.momentum": 0.9}
    got = keras_edits.optimizer(KERAS_ARM, _target(rows), "nesterov", True, "nesterov", cls="SGD")
    assert got.keras_edits == (KerasEdit("optimizer", "SGD", "nesterov", True),)
    with pytest.raises(Refusal, match="already"):
        keras_edits.optimizer(KERAS_ARM, _target(rows), "nesterov", False, "nesterov", cls="SGD")
    with pytest.raises(Refusal, match="not SGD"):
        keras_edits.optimizer(KERAS_ARM, _target({**rows, "optimizer": "Adam"}), "nesterov", True, "n", cls="SGD")
    with pytest.raises(Refusal, match="no rho setting"):
        keras_edits.optimizer(KERAS_ARM, _target(rows), "rho", 0.5, "rho")


def test_every_switch_with_a_keras_applier_is_one_that_a_keras_config_key_holds():
    keras = {s.name for s in SWITCHES if "keras" in s.appliers}
    assert keras == {
        "batchnorm epsilon",
        "batchnorm momentum",
        "leaky relu slope",
        "nesterov",
        "dropout rate",
        "loss from logits",
        "loss reduction",
        "adam epsilon placement",
        "weight decay coefficient",
        "compute dtype",
        "momentum learning-rate placement",
        "gelu approximation",
        "master weights precision",  # reads the layers' policies: nothing to change under a mixed one, else refused
    }
    # the rest keep a reason
    assert all(s.refusals.get("keras") for s in SWITCHES if s.name not in keras)


def test_a_keras_arms_batchnorm_momentum_is_switched_to_a_jax_ports(tmp_path):
    # batchnorm-momentum's literal port keeps 0.1 of the moving statistics (Keras's momentum read as torch's); the
    # Keras arm keeps 0.99: the pair differs in that one convention (epsilon and variance estimator alike)
    out = tmp_path / "explain.json"
    proc = run_cli(
        "explain", "--workload", "batchnorm-momentum", "--arms", "keras-jax,jax-momentum-literal", "--steps", "3",
        "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    (pair,) = json.loads(out.read_text())["pairs"]
    top = pair["switches"][0]
    assert top["name"] == "batchnorm momentum" and top["closes"] and top["applied_to"] == "keras-jax", top
    assert top["ratio_before"] > 1e3 and top["ratio_after"] < 100, top
    assert not any(s["closes"] for s in pair["switches"][1:] if s["refused"] is None), pair["switches"]
    # the Keras arm's rows were read: its epsilon is the port's, nothing to change (refused before it trains)
    eps = next(s for s in pair["switches"] if s["name"] == "batchnorm epsilon")
    assert eps["refused"].startswith("nothing to change: keras-jax's BatchNormalization epsilon is 0.001"), eps


def test_batchnorm_epsilon_on_a_keras_arm_is_the_other_arms_row_and_a_keras_others_layers():
    from paritybench.switches import bn_epsilon

    rows = {"layer batch_normalization epsilon": 0.001}
    to_f64 = _target(rows, {"declared: epsilon": 1e-5})
    assert bn_epsilon.SWITCH.apply(KERAS_ARM, to_f64).keras_edits == (
        KerasEdit("layer", "BatchNormalization", "epsilon", 1e-5),
    )
    other_keras = Arm.keras("tensorflow", "", "m:loss")
    to_keras = replace(_target(rows, {"layer bn epsilon": 1e-4}), other=other_keras)
    assert bn_epsilon.theirs(to_keras) == 1e-4
    with pytest.raises(Refusal, match="nothing to change"):
        bn_epsilon.SWITCH.apply(KERAS_ARM, _target(rows, {"declared: epsilon": 0.001}))


def test_keras_edits_that_are_not_understood_are_refused_in_one_line():
    from paritybench.errors import ParityError
    from paritybench.workloads import registry
    from paritybench.workloads.base import check, field_problem

    w = registry.load("leaky-relu-slope")
    keras_arm = w.arm("keras-jax")

    def with_edits(arm: Arm, *edits) -> object:
        return replace(w, arms=tuple(replace(a, keras_edits=edits) if a is arm else a for a in w.arms))

    good = with_edits(keras_arm, KerasEdit("layer", "LeakyReLU", "negative_slope", 0.01))
    assert field_problem(good) is None  # type: ignore[arg-type]
    assert field_problem(with_edits(keras_arm, KerasEdit("model", None, "x", 1))) == (  # type: ignore[arg-type]
        "arm keras-jax: keras edit model.x=1: part 'model' must be one of layer, optimizer, loss"
    )
    assert "names the layer class" in field_problem(with_edits(keras_arm, KerasEdit("layer", None, "epsilon", 1)))  # type: ignore[arg-type,operator]
    assert "not a config value" in field_problem(with_edits(keras_arm, KerasEdit("loss", None, "axis", [1])))  # type: ignore[arg-type,operator]
    with pytest.raises(ParityError, match="keras_edits change a Keras arm's built model; a f64 arm has none"):
        check(with_edits(w.arm(w.reference), KerasEdit("optimizer", None, "nesterov", True)), "test")


def test_dropout_rate_on_a_keras_arm_is_one_minus_the_other_arms_keep_read_from_its_draws():
    from tests.test_switches_narrow import DROPOUT
    from tests.test_switches_narrow import _target as narrow_target

    t = narrow_target(DROPOUT, "a-stax")  # stax.Dropout(0.25): keeps 25% (its rate is the keep share)
    rows = {"layer dropout rate": 0.2}
    switched = SWITCH_BY_NAME["dropout rate"].apply(KERAS_ARM, replace(t, rows_self=rows))
    assert switched.keras_edits == (KerasEdit("layer", "Dropout", "rate", 0.75),)
    with pytest.raises(Refusal, match="no layer with the setting rate"):
        SWITCH_BY_NAME["dropout rate"].apply(KERAS_ARM, replace(t, rows_self={"layer dense activation": "relu"}))


SWITCH_BY_NAME = {s.name: s for s in SWITCHES}


EDITED_MODEL = """
import json
import numpy as np
import keras
from types import SimpleNamespace
from paritybench.arms.keras_worker import edit_config, edit_layers
from paritybench.errors import ParityError
from paritybench.workloads.base import KerasEdit

keras.utils.set_random_seed(0)
d1, act, bn, d2 = (keras.layers.Dense(16), keras.layers.LeakyReLU(), keras.layers.BatchNormalization(),
                   keras.layers.Dense(3, activation="softmax"))
model = keras.Sequential([keras.Input((5,)), d1, act, bn, d2])
variables = {"d1/k": d1.kernel, "bn/gamma": bn.gamma, "bn/moving_mean": bn.moving_mean, "d2/b": d2.bias}
edits = (
    KerasEdit("layer", "LeakyReLU", "negative_slope", 0.01),
    KerasEdit("layer", "BatchNormalization", "epsilon", 1e-5),
    KerasEdit("optimizer", "SGD", "nesterov", True),
    KerasEdit("loss", None, "label_smoothing", 0.1),
)
arm = SimpleNamespace(name="k", keras_edits=edits)
edited, mapped = edit_layers(keras, model, variables, arm)
npy = keras.ops.convert_to_numpy
copied = all(np.array_equal(npy(variables[k]), npy(v)) for k, v in mapped.items())  # before any call moves the BN's
by_hand = keras.Sequential([
    keras.Input((5,)), keras.layers.Dense(16), keras.layers.LeakyReLU(negative_slope=0.01),
    keras.layers.BatchNormalization(epsilon=1e-5), keras.layers.Dense(3, activation="softmax"),
])
by_hand.set_weights(model.get_weights())
x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
out = {k: npy(m(x, training=True)) for k, m in (("edited", edited), ("by_hand", by_hand), ("model", model))}
opt = edit_config(keras.optimizers.SGD(0.1, momentum=0.9), "optimizer", arm).get_config()
loss = edit_config(keras.losses.CategoricalCrossentropy(), "loss", arm).get_config()
# a loss function's reduction: wrapped as compile wraps it (LossFunctionWrapper), with the edit's reduction
summed = edit_config(keras.losses.mean_squared_error, "loss",
                     SimpleNamespace(name="k", keras_edits=(KerasEdit("loss", None, "reduction", "sum"),)))
yt, yp = np.ones((4, 2), "float32"), np.arange(8, dtype="float32").reshape(4, 2)
per_sample = npy(keras.losses.mean_squared_error(yt, yp))
function_reduction = [type(summed).__name__, summed.reduction, bool(np.isclose(npy(summed(yt, yp)), per_sample.sum()))]
# every layer's dtype policy (cls "Layer"): a mixed_bfloat16 model rebuilt to compute in float32, weights copied
mixed = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, dtype="mixed_bfloat16"), keras.layers.Dense(2)])
to_f32 = SimpleNamespace(name="k", keras_edits=(KerasEdit("layer", "Layer", "dtype", "float32"),))
f32, _ = edit_layers(keras, mixed, {}, to_f32)
plain = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4), keras.layers.Dense(2)])
plain.set_weights(mixed.get_weights())
dtypes = [[l.compute_dtype, l.variable_dtype] for l in f32.layers]
f32_same = bool(np.array_equal(npy(f32(x[:, :5])), npy(plain(x[:, :5]))))
f32_differs = not np.array_equal(npy(mixed(x[:, :5])).astype("float32"), npy(plain(x[:, :5])))
refusals = []
for e in (KerasEdit("layer", "LayerNormalization", "epsilon", 1e-5), KerasEdit("optimizer", None, "beta_1", 0.5)):
    try:
        one = SimpleNamespace(name="k", keras_edits=(e,))
        if e.part == "layer":
            edit_layers(keras, model, variables, one)
        else:
            edit_config(keras.optimizers.SGD(0.1), "optimizer", one)
    except ParityError as exc:
        refusals.append(str(exc))
print(json.dumps({
    "same_as_by_hand": bool(np.array_equal(out["edited"], out["by_hand"])),
    "differs_from_model": not np.allclose(out["edited"], out["model"]),
    "weights_copied": copied,
    "mapped_into_clone": all(any(v is w for w in edited.weights) for v in mapped.values()),
    "configs": [l.get_config().get("negative_slope", l.get_config().get("epsilon")) for l in edited.layers],
    "optimizer": [opt["nesterov"], opt["momentum"]], "loss": loss["label_smoothing"], "refusals": refusals,
    "function_reduction": function_reduction, "dtypes": dtypes, "f32_same": f32_same, "f32_differs": f32_differs,
}))
"""


def test_the_worker_rebuilds_the_edited_layers_as_the_user_would_write_them_with_every_weight_copied():
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", EDITED_MODEL], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["same_as_by_hand"] and got["differs_from_model"], got  # bit for bit the model written with them
    assert got["weights_copied"] and got["mapped_into_clone"], got
    assert got["configs"] == [None, 0.01, 1e-5, None] and got["optimizer"] == [True, 0.9] and got["loss"] == 0.1
    assert got["function_reduction"] == ["LossFunctionWrapper", "sum", True], got
    assert got["dtypes"] == [["float32", "float32"]] * 2 and got["f32_same"] and got["f32_differs"], got
    assert got["refusals"] == [
        "arm k: keras edit layer LayerNormalization.epsilon=1e-05: the Keras model has no LayerNormalization layer "
        "with the setting 'epsilon'",
        "arm k: keras edit optimizer.beta_1=0.5: SGD's config has no 'beta_1' (it has clipnorm, clipvalue, "
        "ema_momentum, ema_overwrite_frequency, global_clipnorm, gradient_accumulation_steps, learning_rate, "
        "loss_scale_factor, momentum, name, nesterov, use_ema, weight_decay)",
    ]


def test_the_seeds_keras_jax_arm_is_explained_by_its_loss_taken_from_the_logits(tmp_path):
    # seed-bce: Keras-JAX's binary cross-entropy clips the sigmoid's output (keras/src/backend/jax/nn.py
    # binary_crossentropy), the arbiter takes it from the logits; the switched arm's worker takes the sigmoid off the
    # last layer and calls the loss with from_logits=True
    out = tmp_path / "explain.json"
    proc = run_cli("explain", "--workload", "seed-bce", "--arms", "keras-jax", "--steps", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (pair,) = json.loads(out.read_text())["pairs"]
    top = pair["switches"][0]
    assert top["name"] == "loss from logits" and top["closes"] and top["applied_to"] == "keras-jax", top
    assert top["ratio_before"] > 1e3 and top["ratio_after"] < 100, top
    assert not any(s["closes"] for s in pair["switches"][1:] if s["refused"] is None), pair["switches"]


def test_loss_from_logits_is_refused_on_keras_tensorflow_and_where_the_keras_loss_has_no_such_setting():
    from paritybench.switches import loss_logits
    from paritybench.workloads import registry

    w = registry.load("seed-bce")
    t = replace(_target({}), workload=w, other=w.arm(w.reference))
    with pytest.raises(Refusal, match="TensorFlow backend already takes"):
        loss_logits.SWITCH.apply(w.arm("keras-tensorflow"), t)
    rows = {"loss": "keras.losses.mean_squared_error", "loss input": "sigmoid output (from_logits=False)"}
    with pytest.raises(Refusal, match="has no from_logits setting"):
        loss_logits.SWITCH.apply(w.arm("keras-jax"), replace(t, rows_self=rows))
    rows = {"loss": "keras.losses.binary_crossentropy {'from_logits': True}", "loss input": "x (from_logits=True)"}
    with pytest.raises(Refusal, match="already takes the logits"):
        loss_logits.SWITCH.apply(w.arm("keras-jax"), replace(t, rows_self=rows))


ADAM_PLACEMENT = """
import json
import numpy as np
import keras
import jax.numpy as jnp
import optax
from types import SimpleNamespace
from paritybench.arms import keras_optimizers as ko
from paritybench.arms.keras_worker import edit_config
from paritybench.workloads.base import KerasEdit


def grads(steps=5):
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=(6, 4)).astype("float32")
    # gradients from 1e-9 to 1e-3: where epsilon (1e-7) is large against sqrt(v) and where it is not
    return w0, [(rng.normal(size=(6, 4)) * 10.0 ** rng.integers(-9, -2, size=(6, 4))).astype("float32")
                for _ in range(steps)]


def keras_run(opt):
    w0, gs = grads()
    w = keras.Variable(w0)
    opt.build([w])
    for g in gs:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), w)])
    return keras.ops.convert_to_numpy(w)


def edited(placement):
    arm = SimpleNamespace(name="k", keras_edits=(KerasEdit("optimizer", "Adam", ko.EPSILON_PLACEMENT, placement),))
    return edit_config(keras.optimizers.Adam(1e-2, epsilon=1e-7), "optimizer", arm)


w0, gs = grads()
w, o = {"w": jnp.asarray(w0)}, optax.adam(1e-2, eps=1e-7)
state = o.init(w)
for g in gs:
    u, state = o.update({"w": jnp.asarray(g)}, state, w)
    w = optax.apply_updates(w, u)
reference = np.asarray(w["w"])
plain, same, after = keras_run(keras.optimizers.Adam(1e-2, epsilon=1e-7)), keras_run(edited(ko.KERAS)), None
after_opt = edited(ko.AFTER)
after = keras_run(after_opt)
print(json.dumps({
    "keras_bit_for_bit": bool(np.array_equal(plain, same)),
    "after_vs_optax": float(np.max(np.abs(after - reference))),
    "keras_vs_optax": float(np.max(np.abs(plain - reference))),
    "class": type(after_opt).__name__, "config": after_opt.get_config()[ko.EPSILON_PLACEMENT],
}))
"""


def test_the_keras_adam_with_its_epsilon_after_the_bias_correction_is_optaxs_and_with_keras_its_own():
    import os
    import subprocess
    import sys

    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", ADAM_PLACEMENT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got["keras_bit_for_bit"], got  # Keras's placement selected: keras.optimizers.Adam's update, bit for bit
    # optax's placement: optax.adam's weights after 5 steps within one float32 ulp of weights near 1 (measured: bit
    # for bit, on the JAX backend), where Keras's own Adam is far from them
    assert got["after_vs_optax"] < 1e-7 and got["keras_vs_optax"] > 1e-4, got
    assert got["class"] == "Adam" and got["config"] == "sqrt(v_hat) + eps, after bias correction", got


def test_adam_epsilon_placement_on_a_keras_arm_needs_a_plain_keras_adam_and_an_other_arm_after_the_correction():
    from paritybench.arms import keras_optimizers
    from paritybench.switches import adam_epsilon

    rows = {"optimizer": "Adam", "optimizer.epsilon placement": keras_optimizers.KERAS}
    after = {"optimizer.epsilon placement": keras_optimizers.AFTER}
    assert adam_epsilon.SWITCH.apply(KERAS_ARM, _target(rows, after)).keras_edits == (
        KerasEdit("optimizer", "Adam", "epsilon_placement", keras_optimizers.AFTER),
    )
    with pytest.raises(Refusal, match="to optax's and torch's"):
        adam_epsilon.SWITCH.apply(KERAS_ARM, _target(rows, {"optimizer.epsilon placement": keras_optimizers.KERAS}))
    with pytest.raises(Refusal, match="is Adam with amsgrad, not a plain Adam"):
        adam_epsilon.SWITCH.apply(KERAS_ARM, _target({**rows, "optimizer.amsgrad": True}, after))
    with pytest.raises(Refusal, match="is Nadam, not a plain Adam"):
        adam_epsilon.SWITCH.apply(KERAS_ARM, _target({**rows, "optimizer": "Nadam"}, after))


def test_weight_decay_on_a_keras_arm_is_its_optimizers_weight_decay_where_that_is_the_other_arms_step():
    from paritybench.switches import weight_decay

    sgd = {"optimizer": "SGD", "optimizer.momentum": 0.0, "weight decay": "none", "L2 in the loss": "none"}
    coupled = {"weight decay": "0.1 x w, coupled (added to the gradient)"}
    assert weight_decay.SWITCH.apply(KERAS_ARM, _target(sgd, coupled)).keras_edits == (
        KerasEdit("optimizer", None, "weight_decay", 0.1),
    )
    # optax's add_decayed_weights(-lr lam) straight into the update reads lr lam: Keras's weight_decay is lam
    into_update = {"weight decay": "0.01 x w, decoupled (added to the update)"}
    adam = {**sgd, "optimizer": "Adam"}
    assert weight_decay.SWITCH.apply(KERAS_ARM, _target(adam, into_update)).keras_edits == (
        KerasEdit("optimizer", None, "weight_decay", 0.1),  # 0.01 / lr 0.1
    )
    # any other optimizer: its own update of g + lam w (arms.keras_optimizers' coupled_weight_decay)
    momentum = {**sgd, "optimizer.momentum": 0.9, "gradient clipping": "none"}
    assert weight_decay.SWITCH.apply(KERAS_ARM, _target(momentum, coupled)).keras_edits == (
        KerasEdit("optimizer", None, "coupled_weight_decay", 0.1),
    )
    with pytest.raises(Refusal, match="clips its gradients .* added after the clip"):
        weight_decay.SWITCH.apply(KERAS_ARM, _target({**momentum, "gradient clipping": "global norm 1"}, coupled))
    with pytest.raises(Refusal, match="decays decoupled .* a different optimizer formula"):
        adamw = {**adam, "weight decay": "0.004 x w, decoupled (added to the update)"}
        weight_decay.SWITCH.apply(KERAS_ARM, _target(adamw, coupled))
    with pytest.raises(Refusal, match="takes every variable"):
        masked = {"weight decay": "0.1 x w, coupled (added to the gradient), masked (some parameters only)"}
        weight_decay.SWITCH.apply(KERAS_ARM, _target(sgd, masked))
    with pytest.raises(Refusal, match="L2 penalty in its loss"):
        weight_decay.SWITCH.apply(
            KERAS_ARM, _target({**sgd, "L2 in the loss": "dense.kernel: L2{'l2': 0.01}"}, coupled)
        )
    with pytest.raises(Refusal, match="nothing to change"):
        weight_decay.SWITCH.apply(
            KERAS_ARM, _target({**sgd, "weight decay": "0.1 x w, decoupled (added to the update)"}, coupled)
        )


def test_compute_dtype_on_a_keras_arm_is_every_layers_policy_set_to_float32_where_its_variables_are_float32():
    from paritybench.switches import compute_dtype

    mixed = {"layer hidden dtype policy": "mixed_bfloat16", "layer out dtype policy": "float32"}
    # the other arm's forward pass is not read here (an f64 arm with no function): refused after the Keras reading
    with pytest.raises(Refusal, match="keep 16-bit variables too"):
        compute_dtype.SWITCH.apply(KERAS_ARM, _target({**mixed, "layer out dtype policy": "bfloat16"}))
    with pytest.raises(Refusal, match="nothing to change: k.*32 bits"):
        compute_dtype.SWITCH.apply(replace(KERAS_ARM, name="k"), _target({"layer out dtype policy": "float32"}))


def test_master_weights_on_a_keras_arm_reads_its_layers_variable_dtypes():
    from paritybench.switches import master_weights

    mixed = {"layer hidden dtype policy": "mixed_bfloat16", "layer out dtype policy": "float32"}
    with pytest.raises(Refusal, match=r"nothing to change: .* keep float32 variables"):
        master_weights.SWITCH.apply(KERAS_ARM, _target(mixed))
    # a bfloat16 layer (16-bit variables) against an arm whose optimizer keeps float32 weights (plain SGD, probed):
    # that layer rebuilt under mixed_bfloat16 (float32 variables, the same bfloat16 compute), the others kept
    narrow = {**mixed, "layer out dtype policy": "bfloat16"}
    assert master_weights.SWITCH.apply(KERAS_ARM, _target(narrow)).keras_edits == (
        KerasEdit("layer", "Layer", "dtype", "mixed_bfloat16", only="bfloat16"),
    )
    other_keras = Arm.keras("tensorflow", "", "m:loss")
    with pytest.raises(Refusal, match="nothing to change: keras-tensorflow keeps 16-bit weights too"):
        both = replace(_target(narrow, {"layer out dtype policy": "bfloat16"}), other=other_keras)
        master_weights.SWITCH.apply(KERAS_ARM, both)


SGD_PLACEMENT = """
import json
import numpy as np
import keras
import jax.numpy as jnp
import optax
from types import SimpleNamespace
from paritybench.arms import keras_optimizers as ko
from paritybench.arms.keras_worker import edit_config
from paritybench.workloads.base import KerasEdit

rng = np.random.default_rng(0)
w0 = rng.normal(size=(6, 4)).astype("float32")
gs = [rng.normal(size=(6, 4)).astype("float32") for _ in range(6)]
RATES = [0.1, 0.05, 0.02, 0.2, 0.1, 0.01]


def keras_lr():  # step k's rate RATES[k] (Keras's boundaries are inclusive)
    return keras.optimizers.schedules.PiecewiseConstantDecay([0, 1, 2, 3, 4], RATES)


def run(opt):
    w = keras.Variable(w0)
    opt.build([w])
    for g in gs:
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), w)])
    return keras.ops.convert_to_numpy(w)


def edited(placement, nesterov):
    arm = SimpleNamespace(name="k", keras_edits=(KerasEdit("optimizer", "SGD", ko.MOMENTUM_PLACEMENT, placement),))
    return edit_config(keras.optimizers.SGD(keras_lr(), momentum=0.9, nesterov=nesterov), "optimizer", arm)


out = {}
for nesterov in (False, True):
    sched = optax.piecewise_constant_schedule(RATES[0], {k: RATES[k] / RATES[k - 1] for k in range(1, 6)})
    o = optax.sgd(sched, momentum=0.9, nesterov=nesterov)
    p = {"w": jnp.asarray(w0)}
    st = o.init(p)
    for g in gs:
        u, st = o.update({"w": jnp.asarray(g)}, st, p)
        p = optax.apply_updates(p, u)
    plain = run(keras.optimizers.SGD(keras_lr(), momentum=0.9, nesterov=nesterov))
    out[str(nesterov)] = [
        bool(np.array_equal(plain, run(edited(ko.BEFORE_BUFFER, nesterov)))),
        float(np.max(np.abs(run(edited(ko.AFTER_BUFFER, nesterov)) - np.asarray(p["w"])))),
        float(np.max(np.abs(plain - np.asarray(p["w"])))),
    ]
print(json.dumps(out))
"""


def test_the_keras_sgd_with_the_learning_rate_after_the_buffer_is_optaxs_and_before_it_keras_own():
    import os
    import subprocess
    import sys

    from paritybench.arms import keras_optimizers
    from paritybench.switches import momentum_lr

    # the placement's words are momentum_lr's reading's
    assert (keras_optimizers.AFTER_BUFFER, keras_optimizers.BEFORE_BUFFER) == (momentum_lr.AFTER, momentum_lr.BEFORE)
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", SGD_PLACEMENT], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    for nesterov, (same, after, keras_own) in got.items():
        # Keras's placement: keras.optimizers.SGD bit for bit; optax's: optax.sgd's weights after 6 steps of a
        # changing rate to float32 rounding (measured 3e-7 and 4e-7, weights of order 1), Keras's own 0.8 away
        assert same and after < 1e-6 and keras_own > 0.1, (nesterov, got)
