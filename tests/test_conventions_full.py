"""issue 19 section 1: conventions read in full, in one vocabulary (and the Keras optimizer state localize reads).

Constructed cases: an optax chain, a Keras optimizer and model, a torch module built in this process; the
e2e tests run a user's own workload (written below) through the CLI."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from tests.conftest import run_cli

# A user's own workload: Keras SGD and RMSprop, neither with momentum (so without momentum buffers), beside optax.
USER_WORKLOAD = """
from __future__ import annotations

import numpy as np

from paritybench.workloads import Arm, Data, Model, Training, Workload

PARAMS = {"dense/kernel": (784, 10), "dense/bias": (10,)}


def init(seed: int, threefry_partitionable: bool = False):
    rng = np.random.default_rng(seed)
    kernel = rng.uniform(-0.05, 0.05, (784, 10)).astype(np.float32)
    return {"dense/kernel": kernel, "dense/bias": np.zeros(10, np.float32)}


def jax_apply(params, x):
    return x @ params["dense/kernel"] + params["dense/bias"]


def keras_build(keras):
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(10, activation="softmax")])
    layer = model.layers[0]
    return model, {"dense/kernel": layer.kernel, "dense/bias": layer.bias}


def ce(z, y):
    import optax

    return optax.softmax_cross_entropy(z, y)


def keras_ce(keras):
    return keras.losses.categorical_crossentropy


def optax_sgd(lr):
    import optax

    return optax.sgd(lr)


def keras_sgd(keras, lr):
    return keras.optimizers.SGD(learning_rate=lr)


def keras_rmsprop(keras, lr):
    return keras.optimizers.RMSprop(learning_rate=lr)


def keras_arm(name, opt):
    return Arm(name, name, "keras", "keras:tensorflow", process="keras-tensorflow", keras_loss=keras_ce,
               keras_optimizer=opt, requires=("keras", "tensorflow"), role="keras")


WORKLOAD = Workload(
    name="sgd-plain",
    version="1",
    question="Does plain SGD take the same path in Keras and in optax?",
    sources=(),
    data=Data(dataset="mnist", labels="onehot10", n=64, normalize=True),
    training=Training(steps=2, lr=0.1),
    model=Model(params=PARAMS, head="softmax", init=init, jax_apply=jax_apply, keras_build=keras_build),
    arms=(
        Arm("jax-sgd", "optax.sgd", "jax", "ce", loss_fn=ce, optimizer=optax_sgd, requires=("jax", "optax"),
            role="fix"),
        keras_arm("keras-sgd", keras_sgd),
        keras_arm("keras-rmsprop", keras_rmsprop),
        Arm("reference-f64", "float64", "f64", "ce64", loss_fn=ce, optimizer=optax_sgd, requires=("jax", "optax"),
            role="reference"),
    ),
    fix="jax-sgd",
)
"""


@pytest.fixture(scope="module")
def keras():
    """Keras in this process (on the JAX backend unless Keras is loaded already)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
        mp.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
        import keras

    return keras


# ----------------------------------------------------------------- localize: the optimizer's own variables


def test_optimizer_slots_are_the_variables_the_optimizer_keeps(keras):
    from paritybench.arms.keras_inspect import optimizer_slots

    model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
    tv = model.trainable_variables
    cases = {
        "sgd": (keras.optimizers.SGD(0.1), set()),
        "sgd-momentum": (keras.optimizers.SGD(0.1, momentum=0.9), {"momentum"}),
        "rmsprop": (keras.optimizers.RMSprop(0.1), {"velocity"}),
        "adam-amsgrad": (keras.optimizers.Adam(amsgrad=True), {"momentum", "velocity", "velocity_hat"}),
    }
    for what, (opt, slots) in cases.items():
        opt.apply([np.ones(v.shape, np.float32) for v in tv], tv)
        got = optimizer_slots(opt, tv, ["kernel", "bias"])
        assert {p: set(s) for p, s in got.items()} == {"kernel": slots, "bias": slots}, what
    # RMSprop's velocity after one step of g = 1 from zero: rho * 0 + (1 - rho) * 1 (keras/src/optimizers/rmsprop.py)
    rms = cases["rmsprop"][0]
    v = keras.ops.convert_to_numpy(optimizer_slots(rms, tv, ["kernel", "bias"])["bias"]["velocity"])
    np.testing.assert_allclose(v, 1 - rms.rho, rtol=1e-6)


def test_localize_reads_a_keras_optimizer_without_momentum_buffers(tmp_path):
    """Keras RMSprop without momentum keeps no momentum variables: localize read its state as Adam's and
    failed (IndexError, exit 2); SGD without momentum keeps none at all."""
    wl = tmp_path / "sgd_plain.py"
    wl.write_text(USER_WORKLOAD)
    out = tmp_path / "loc.json"
    proc = run_cli("localize", "--workload", str(wl), "--steps", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    pairs = {p["a"]: p for p in json.loads(out.read_text())["pairs"]}
    assert pairs["keras-sgd"]["first"] is None, pairs["keras-sgd"]["line"]
    f = pairs["keras-rmsprop"]["first"]  # RMSprop divides by sqrt(velocity): a different update from step 0
    assert (f["step"], f["phase"]) == (0, "update"), pairs["keras-rmsprop"]["line"]
