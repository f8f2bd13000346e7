"""Switches on a Keras arm, second file (``tests/test_switches_keras.py`` has the first pairs; two files so that
xdist can balance them): Keras's coupled weight decay on any optimizer (``arms.keras_optimizers``), GELU back to its
exact form, and 16-bit variables switched to a mixed policy's float32 ones. Each pair: a user's Keras model
against their JAX port (the float64 arbiter, never switched) differing in one convention known only to the test."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import run_cli
from tests.test_switches_keras import _write

COUPLED = """
import json
import numpy as np
import keras
import jax.numpy as jnp
import optax
from types import SimpleNamespace
from paritybench.arms import keras_optimizers as ko
from paritybench.arms.keras_conventions import optimizer_rows
from paritybench.arms.keras_worker import edit_config
from paritybench.workloads.base import KerasEdit

LAM = 0.1
rng = np.random.default_rng(0)
w0 = rng.normal(size=(6, 4)).astype("float32")
gs = [(rng.normal(size=(6, 4)) * 1e-2).astype("float32") for _ in range(5)]


def run(opt, by_hand=False):
    w = keras.Variable(w0)
    opt.build([w])
    for g in gs:
        if by_hand:  # g + lam w written out, handed to Keras's own optimizer
            g = g + np.float32(LAM) * keras.ops.convert_to_numpy(w)
        opt.apply_gradients([(keras.ops.convert_to_tensor(g), w)])
    return keras.ops.convert_to_numpy(w)


def edited(opt, *edits):
    return edit_config(opt, "optimizer", SimpleNamespace(name="k", keras_edits=edits))


def optax_run(o):
    p = {"w": jnp.asarray(w0)}
    st = o.init(p)
    for g in gs:
        u, st = o.update({"w": jnp.asarray(g)}, st, p)
        p = optax.apply_updates(p, u)
    return np.asarray(p["w"])


def decay(lam=LAM):
    return KerasEdit("optimizer", None, ko.COUPLED_WEIGHT_DECAY, lam)



after = KerasEdit("optimizer", "Adam", ko.EPSILON_PLACEMENT, ko.AFTER)
adam = lambda: keras.optimizers.Adam(1e-2, epsilon=1e-7)
rms = lambda: keras.optimizers.RMSprop(1e-2)
decayed = lambda: edited(adam(), decay())
both = lambda: edited(adam(), after, decay())
reference = optax_run(optax.chain(optax.add_decayed_weights(LAM), optax.adam(1e-2, eps=1e-7)))
print(json.dumps({
    "adam_by_hand": bool(np.array_equal(run(decayed()), run(adam(), by_hand=True))),
    "rmsprop_by_hand": bool(np.array_equal(run(edited(rms(), decay())), run(rms(), by_hand=True))),
    "zero_is_keras": bool(np.array_equal(run(edited(adam(), decay(0.0))), run(adam()))),
    "undecayed_moves": float(np.max(np.abs(run(adam()) - run(decayed())))),
    "both_vs_optax": float(np.max(np.abs(run(both()) - reference))),
    "class": [type(decayed()).__name__, type(both()).__name__],
    "config": [both().get_config()[ko.EPSILON_PLACEMENT], both().get_config()[ko.COUPLED_WEIGHT_DECAY]],
    "row": optimizer_rows(edited(keras.optimizers.AdamW(1e-2, weight_decay=0.004), decay()))["weight decay"],
    "again": edited(both(), decay(0.2)).get_config()[ko.COUPLED_WEIGHT_DECAY],
}))
"""


def _script(code: str) -> dict:
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_a_keras_optimizer_with_coupled_weight_decay_is_its_own_update_of_the_decayed_gradient():
    got = _script(COUPLED)
    # Adam and RMSprop with the coupled decay: Keras's own optimizer handed g + lam w, bit for bit; at lam 0 Keras's
    # own update; stacked on the epsilon placement after the bias correction: optax's chain(add_decayed_weights,
    # adam) to float32 rounding (weights of order 1)
    assert got["adam_by_hand"] and got["rmsprop_by_hand"] and got["zero_is_keras"], got
    assert got["undecayed_moves"] > 1e-3 and got["both_vs_optax"] < 1e-6, got
    assert got["class"] == ["Adam", "Adam"], got
    assert got["config"] == ["sqrt(v_hat) + eps, after bias correction", 0.1] and got["again"] == 0.2, got
    # conventions reads it back in optax's words, beside Keras's own decoupled decay
    assert got["row"] == "0.004 x w, decoupled (added to the update); 0.1 x w, coupled (added to the gradient)", got


# the cause (the switch explain must name), and where there are several pairs of one cause "cause (case)" -> (Keras
# activation layer, Keras optimizer, JAX activation, optax optimizer[, Keras loss, Keras dtype]): as
# tests/test_switches_keras.py's PAIRS, one convention differs
PAIRS = {
    # the port decays its weights coupled (g + 0.1 w into SGD momentum), the Keras model does not: Keras's own
    # weight_decay is decoupled, a different step under momentum
    "weight decay coefficient (SGD momentum)": (
        'keras.layers.Activation("tanh")',
        "keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)",
        "jnp.tanh",
        "optax.chain(optax.add_decayed_weights(0.1), optax.sgd(0.05, momentum=0.9))",
    ),
    # likewise into RMSprop (Keras's lr g / sqrt(v + eps) is optax's rmsprop with eps inside the root, its default)
    "weight decay coefficient (RMSprop)": (
        'keras.layers.Activation("tanh")',
        "keras.optimizers.RMSprop(learning_rate=0.05, epsilon=1e-7)",
        "jnp.tanh",
        "optax.chain(optax.add_decayed_weights(0.1), optax.rmsprop(0.05, decay=0.9, eps=1e-7))",
    ),
    # keras.ops.gelu is the tanh form (approximate=True by default; its config reads "gelu"), the port's GELU exact
    "gelu approximation": (
        "keras.layers.Activation(keras.ops.gelu)",
        "keras.optimizers.SGD(learning_rate=0.05)",
        "(lambda h: jax.nn.gelu(h, approximate=False))",
        "optax.sgd(0.05)",
    ),
    # the Keras hidden layer under the bfloat16 policy (bfloat16 variables and compute: each update rounded to
    # bfloat16), its output layer float32 (KERAS below); the port computes so (FORWARD) on float32 parameters
    "master weights precision": (
        'keras.layers.Activation("tanh", dtype="bfloat16")',
        "keras.optimizers.SGD(learning_rate=0.05)",
        "jnp.tanh",
        "optax.sgd(0.05)",
        '"mse"',
        ', dtype="bfloat16"',
    ),
}
# the Keras model's text changed where the template's is not the pair's: (old, new)
KERAS = {"master weights precision": ('name="out", dtype="bfloat16"', 'name="out"')}
# a pair's learning rate (in the Keras model, the port and the workload) where the template's 0.05 is not it, and the
# least ratio its parting must show (1e3 elsewhere): the port's float32 run, the noise floor, computes in bfloat16
# too, so an update's floor is bfloat16's rounding; an update far below half a bfloat16 ulp of the weights is lost
# whole on 16-bit variables (measured: 971x the floor at lr 5e-4, 705x at 2e-3, 36x and no parting at 0.05)
LR = {"master weights precision": ("0.0005", 300)}
# a port's own forward pass, where the template's (every op in the parameters' dtype) is not the Keras model's
FORWARD = {
    # Keras's bfloat16 Dense and tanh (keras/src/layers/core/dense.py call: matmul, then the bias added); the float32
    # output layer casts its bfloat16 input to its compute dtype (keras/src/layers/layer.py: convert_input)
    "master weights precision": """
def apply(params, x):
    hidden = jax.tree.map(lambda v: v.astype(jnp.bfloat16), params["hidden"])
    h = jnp.tanh(x.astype(jnp.bfloat16) @ hidden["w"] + hidden["b"]).astype(params["out"]["w"].dtype)
    return h @ params["out"]["w"] + params["out"]["b"]
""",
}


@pytest.mark.parametrize("case", sorted(PAIRS))
def test_a_keras_arm_is_switched_to_its_jax_ports_convention_and_that_switch_alone_closes(tmp_path, case):
    cause = case.split(" (")[0]
    spec = _write(tmp_path / "user", *PAIRS[case])
    lr, least = LR.get(cause, ("0.05", 1e3))
    for name in ("keras_model.py", "jax_model.py", "workload.py"):
        (spec.parent / name).write_text((spec.parent / name).read_text().replace("0.05", lr))
    if cause in KERAS:
        model = spec.parent / "keras_model.py"
        model.write_text(model.read_text().replace(*KERAS[cause]))
    if cause in FORWARD:
        port = spec.parent / "jax_model.py"
        text = port.read_text()
        start = text.index("def apply(")
        port.write_text(text[:start] + FORWARD[cause].lstrip() + text[text.index("def loss(") - 2 :])
    out = tmp_path / "explain.json"
    proc = run_cli("explain", "--workload", str(spec), "--arms", "keras-jax", "--steps", "3", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    (pair,) = json.loads(out.read_text())["pairs"]
    assert (pair["a"], pair["b"]) == ("keras-jax", "reference-f64")  # the port is the arbiter, never switched
    assert pair["parted"] is not None and pair["parted"]["ratio"] > least, pair["parted"]
    top = pair["switches"][0]
    assert top["name"] == cause and top["closes"] and top["applied_to"] == "keras-jax", pair["switches"][:3]
    assert top["ratio_before"] > least and top["ratio_after"] < 100, top
    others = [s for s in pair["switches"][1:] if s["refused"] is None]
    assert not any(s["closes"] for s in others), others
    assert f"{cause} closes the gap" in pair["verdict"]
    print(case, top["ratio_before"], "->", top["ratio_after"])  # the note's figures (pytest -s)


GELU_LAYERS = """
import json
import numpy as np
import keras
from types import SimpleNamespace
from paritybench.arms import keras_activations as ka
from paritybench.arms.keras_worker import edit_layers
from paritybench.workloads.base import KerasEdit

keras.utils.set_random_seed(0)
npy = keras.ops.convert_to_numpy
x = np.random.default_rng(0).normal(size=(32, 5)).astype("float32") * 2


def model(first, second, epsilon=1e-3):
    return keras.Sequential([
        keras.Input((5,)), keras.layers.Dense(8, activation=first), keras.layers.BatchNormalization(epsilon=epsilon),
        keras.layers.Dense(8), keras.layers.Activation(second), keras.layers.Dense(2),
    ])


def edited(m, *edits):
    return edit_layers(keras, m, {}, SimpleNamespace(name="k", keras_edits=edits))[0]


def same(a, b):
    b.set_weights(a.get_weights())
    return bool(np.array_equal(npy(a(x)), npy(b(x))))


tanh = lambda h: keras.activations.gelu(h, approximate=True)
m = model(keras.ops.gelu, tanh)
# an edit of another layer keeps each activation's function (a from_config of "gelu" would be the exact one)
eps = edited(m, KerasEdit("layer", "BatchNormalization", "epsilon", 1e-5))
# the tanh-form layers back to activation="gelu": every layer, as the model written with it
exact = edited(m, KerasEdit("layer", "Layer", "activation", "gelu", only=ka.TANH))
mixed = model("gelu", tanh)
only_tanh = edited(mixed, KerasEdit("layer", "Layer", "activation", "gelu", only=ka.TANH))
print(json.dumps({
    "kept": [ka.form(keras, eps.layers[0].activation), ka.form(keras, eps.layers[3].activation)],
    "kept_same": same(eps, model(keras.ops.gelu, tanh, 1e-5)),
    "exact": [ka.form(keras, exact.layers[0].activation), ka.form(keras, exact.layers[3].activation)],
    "exact_same": same(exact, model("gelu", "gelu")), "exact_differs": not same(m, model("gelu", "gelu")),
    "only_tanh": [ka.form(keras, only_tanh.layers[0].activation), ka.form(keras, only_tanh.layers[3].activation)],
    "config_reads": m.layers[0].get_config()["activation"],
}))
"""


def test_a_keras_layers_gelu_is_read_from_what_it_computes_and_switched_to_the_exact_form():
    got = _script(GELU_LAYERS)
    # keras.ops.gelu's config reads "gelu" (the exact form's name) yet computes the tanh form: read by calling it
    assert got["config_reads"] == "gelu" and got["kept"] == ["tanh approximation"] * 2, got
    assert got["kept_same"], got  # the clone computes as the model did, bit for bit
    assert got["exact"] == ["exact (erf)"] * 2 and got["exact_same"] and got["exact_differs"], got
    assert got["only_tanh"] == ["exact (erf)"] * 2, got  # the exact layer stays (and is one already)


def test_gelu_on_a_keras_arm_rebuilds_the_layers_computing_the_other_arms_other_form():
    import numpy as np

    from paritybench.arms import keras_activations as ka
    from paritybench.switches import Refusal, Target, gelu_approximate
    from paritybench.workloads import registry
    from paritybench.workloads.base import Arm, KerasEdit

    w = registry.load("gelu-approximate")
    keras_arm = w.arm("keras-jax")
    x = np.zeros((8, 784), np.float32)
    init = {k: np.zeros(s, np.float32) for k, s in w.model.params.items()}

    def apply(rows: dict, other: Arm) -> tuple:
        t = Target(w, other, rows, {}, 0.01, x, x[:, :10], init)
        return gelu_approximate.SWITCH.apply(keras_arm, t).keras_edits

    exact, tanh = w.arm(w.reference), w.arm("jax-gelu-literal")  # jax.nn.gelu(approximate=False), its default
    assert apply({"layer dense gelu": ka.TANH}, exact) == (
        KerasEdit("layer", "Layer", "activation", "gelu", only=ka.TANH),
    )
    assert apply({"layer dense gelu": ka.EXACT}, tanh) == (
        KerasEdit("layer", "Layer", "activation", ka.GELU_TANH, only=ka.EXACT),
    )
    with pytest.raises(Refusal, match="nothing to change: keras-jax's GELU layers compute the exact"):
        apply({"layer dense gelu": ka.EXACT}, exact)
    with pytest.raises(Refusal, match="has no layer whose activation computes a GELU"):
        apply({"layer dense activation": "relu"}, exact)
