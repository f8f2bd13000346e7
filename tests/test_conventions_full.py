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


# ----------------------------------------------------------------- optax: every transform, named by what it is


def _optax_rows(make):
    from paritybench.arms.jax_conventions import optax_rows

    return optax_rows(make, 0.1, {"w": np.zeros(3, np.float32)})


def test_optax_rmsprop_decay_is_rho_and_its_epsilon_is_inside_the_root():
    """optax.rmsprop's decay is the squared-gradient average's (optax/_src/transform.py scale_by_rms), not a
    momentum; its default eps_in_sqrt=True computes rsqrt(nu + eps) (transform.py:139-140)."""
    import optax

    rows = _optax_rows(lambda lr: optax.rmsprop(lr, decay=0.95))
    assert rows["optimizer.rho"] == 0.95 and rows["optimizer.momentum"] == 0.0
    assert rows["optimizer.epsilon placement"] == "sqrt(v + eps), no bias correction"
    outside = _optax_rows(lambda lr: optax.rmsprop(lr, eps_in_sqrt=False, momentum=0.9))
    assert outside["optimizer.epsilon placement"] == "sqrt(v) + eps, no bias correction"
    assert outside["optimizer.momentum"] == 0.9 and outside["optimizer.rho"] == 0.9


def test_optax_adam_eps_root_is_read_from_the_closure():
    import optax

    rows = _optax_rows(lambda lr: optax.adam(lr, eps=0.0, eps_root=1e-8))
    assert rows["optimizer.epsilon placement"] == "sqrt(v_hat + eps), after bias correction"
    assert rows["optimizer.epsilon"] == 1e-8
    assert _optax_rows(lambda lr: optax.adam(lr))["optimizer.epsilon placement"] == (
        "sqrt(v_hat) + eps, after bias correction"
    )


def _clip_grads(max_norm):
    """A user's own clip whose name starts with an underscore (it was hidden: read as no clip)."""
    import jax
    import optax

    def update_fn(updates, state, params=None):
        norm = optax.global_norm(updates)
        return jax.tree.map(lambda g: g * jax.numpy.minimum(1.0, max_norm / norm), updates), state

    return optax.GradientTransformation(lambda params: optax.EmptyState(), update_fn)


def test_optax_underscore_transforms_and_clipping_are_shown():
    import optax

    own = _optax_rows(lambda lr: optax.chain(_clip_grads(2.0), optax.sgd(lr)))
    assert "_clip_grads" in own["optimizer"] and own["optimizer._clip_grads.max_norm"] == 2.0
    glob = _optax_rows(lambda lr: optax.chain(optax.clip_by_global_norm(1.0), optax.adam(lr)))
    assert glob["gradient clipping"] == "global norm 1"
    assert _optax_rows(lambda lr: optax.chain(optax.clip(0.5), optax.sgd(lr)))["gradient clipping"] == (
        "per element value 0.5"
    )
    assert _optax_rows(lambda lr: optax.adam(lr))["gradient clipping"] == "none"


def test_rows_show_names_never_addresses():
    from paritybench.arms.keras_conventions import ref_name

    assert ref_name(_clip_grads) == "tests.test_conventions_full:_clip_grads"
    assert ref_name("pkg.mod:fn") == "pkg.mod:fn"
    assert "0x" not in ref_name(lambda: 0) and "0x" not in ref_name(object())
    from paritybench.arms.keras_conventions import _jsonable

    # a config holding a function or an object without a readable value (a Keras loss's fn, a user's kwargs)
    assert _jsonable({"fn": _clip_grads, "x": [object()]}) == {
        "fn": "tests.test_conventions_full:_clip_grads",
        "x": ["object"],
    }


# ----------------------------------------------------------------- Keras: the optimizer's whole config


def test_keras_optimizer_read_in_full(keras):
    from paritybench.analysis.conventions_table import differing
    from paritybench.arms.keras_conventions import optimizer_rows

    rms = optimizer_rows(keras.optimizers.RMSprop(0.1, rho=0.95))
    # keras/src/optimizers/rmsprop.py:143-145: lr * g / sqrt(velocity + epsilon)
    assert rms["optimizer.rho"] == 0.95 and rms["optimizer.momentum"] == 0.0
    assert rms["optimizer.epsilon placement"] == "sqrt(v + eps), no bias correction"
    assert optimizer_rows(keras.optimizers.Adam(clipnorm=1.0))["gradient clipping"] == "per variable norm 1"
    assert optimizer_rows(keras.optimizers.Adam(clipvalue=0.5))["gradient clipping"] == "per element value 0.5"
    full = optimizer_rows(
        keras.optimizers.Adam(
            global_clipnorm=1.0, amsgrad=True, use_ema=True, loss_scale_factor=128.0, gradient_accumulation_steps=2
        )
    )
    assert full["gradient clipping"] == "global norm 1"
    assert full["optimizer.amsgrad"] is True and full["optimizer.use_ema"] is True
    assert full["optimizer.ema_momentum"] == pytest.approx(0.99) and full["optimizer.loss_scale_factor"] == 128.0
    assert full["optimizer.gradient_accumulation_steps"] == 2
    # Nadam adds epsilon after the bias correction (keras/src/optimizers/nadam.py:144), Adam before it
    assert optimizer_rows(keras.optimizers.Nadam())["optimizer.epsilon placement"].endswith("after bias correction")
    assert optimizer_rows(keras.optimizers.AdamW(weight_decay=0.01))["weight decay"] == (
        "0.01 x w, decoupled (added to the update)"
    )
    # one vocabulary: the same clip and the same RMSprop read alike in Keras and optax (only the names differ)
    import optax

    jax_rms = _optax_rows(lambda lr: optax.chain(optax.clip_by_global_norm(1.0), optax.rmsprop(lr, decay=0.95)))
    k_rms = optimizer_rows(keras.optimizers.RMSprop(0.1, rho=0.95, global_clipnorm=1.0))
    shared = ("gradient clipping", "optimizer.rho", "optimizer.momentum", "optimizer.epsilon placement")
    diff = differing({"jax": {k: jax_rms[k] for k in shared}, "keras": {k: k_rms[k] for k in shared}})
    assert diff == [], diff


# ----------------------------------------------------------------- torch: every param-group entry


def test_torch_optimizer_and_loss_read_in_full():
    pytest.importorskip("torch", reason='torch is not installed: make setup EXTRAS="--extra cpu --extra torch"')
    from paritybench.arms import torch_trainer
    from paritybench.workloads import Arm

    class W:  # the three things conventions_rows reads from a workload
        arms = ()  # no arm shuffles: no batch order row

        class model:
            params = {"w": (3,)}
            init = "pkg.mod:init"
            torch_apply = "pkg.mod:apply"

    arm = Arm(
        "torch-rms",
        "RMSprop",
        "torch",
        "x",
        process="main",
        torch_loss="torch.nn:SmoothL1Loss",
        torch_optimizer=lambda params, lr: __import__("torch").optim.RMSprop(
            list(params.values()), lr=lr, alpha=0.95, centered=True, weight_decay=0.01
        ),
        requires=("torch",),
    )
    rows = torch_trainer.conventions_rows(W, arm, 0.1)
    assert rows["optimizer.rho"] == 0.95 and rows["optimizer.centered"] is True
    # torch/optim/rmsprop.py: sqrt(square_avg - grad_avg^2) + eps
    assert rows["optimizer.epsilon placement"] == "sqrt(v - m^2) + eps, no bias correction"
    assert rows["weight decay"] == "0.01 x w, coupled (added to the gradient)"
    assert "foreach=" in rows["implementation: torch.optim"]
    assert "'beta': 1.0" in rows["loss"] and "'reduction': 'mean'" in rows["loss"]


# ----------------------------------------------------------------- a missing framework skips its arms, not the command


def test_missing_torch_skips_its_arms_with_the_reason(monkeypatch):
    """torch not installed (find_spec says so, as arms/requirements.py asks it): the torch arm and keras-torch are
    skipped with run's install hint, the other arms are read; before, keras-torch's worker failed the command."""
    import importlib.util

    from paritybench import workloads
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.pipeline import conventions

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    w = workloads.load("adam-epsilon")
    arms = w.resolve_arms(("jax-adam-literal", "torch-adam", "keras-torch"))
    rec = conventions.report(w, arms, w.training.lr, NumericsOptions())
    assert list(rec["arms"]) == ["jax-adam-literal"]
    assert set(rec["skipped"]) == {"torch-adam", "keras-torch"}
    assert rec["skipped"]["keras-torch"].startswith("torch not installed: install the torch extra")


# ----------------------------------------------------------------- declarations the code contradicts


def test_declared_rows_the_code_contradicts_are_flagged(keras):
    """Each kind of declaration held to the rows read from constructed optimizers and layers."""
    import optax

    from paritybench.analysis.conventions_table import declaration_mismatches
    from paritybench.arms.keras_conventions import optimizer_rows

    k = optimizer_rows(keras.optimizers.Adam(epsilon=1e-7))
    bn = keras.layers.BatchNormalization(momentum=0.99, epsilon=1e-3).get_config()
    k |= {"layer bn epsilon": bn["epsilon"], "layer bn momentum": bn["momentum"], "dtype": "float32"}
    j = _optax_rows(lambda lr: optax.adam(lr, eps=1e-7)) | {"dtype": "float32"}
    right = {
        "keras": k
        | {
            "declared: epsilon": "added to sqrt(v) before bias correction (epsilon-hat)",
            "declared: moving average": "new = 0.99*old + 0.01*batch (Keras momentum 0.99 = share kept)",
        },
        "jax": j | {"declared: optimizer": "optax.adam, eps 1e-07 on the bias-corrected sqrt(v_hat)"},
    }
    assert declaration_mismatches(right) == []
    wrong = {
        "keras": k
        | {
            "declared: epsilon": "added to sqrt(v_hat) after bias correction",
            "declared: moving average": "Keras momentum 0.9",
            "declared: dtype": "float64",
        },
        "jax": j | {"declared: optimizer": "optax.adam, eps 1e-07 on the uncorrected sqrt(v) (epsilon-hat)"},
        "bn": {"layer bn epsilon": 1e-3, "declared: epsilon": "1e-05"},
    }
    assert declaration_mismatches(wrong) == [
        "keras: declared epsilon says epsilon after bias correction, the code adds it sqrt(v) + eps, before bias "
        "correction (epsilon-hat)",
        "keras: declared moving average says momentum 0.9, the layers use 0.99",
        "keras: declared dtype float64, the code runs float32",
        "jax: declared optimizer says epsilon before bias correction, the code adds it sqrt(v_hat) + eps, after bias "
        "correction",
        "bn: declared epsilon 1e-05, the layers use 0.001",
    ]


def test_a_row_that_differs_only_by_spelling_is_not_marked():
    from paritybench.analysis.conventions_table import differing

    same = {
        "keras": {"weight decay": "0.01 x w, decoupled (added to the update)"},
        "optax": {"weight decay": "0.01 x w, decoupled (added after the optimizer's scaling)"},
    }
    assert differing(same) == []
    assert differing({"keras": {"optimizer": "SGD"}, "torch": {"optimizer": "torch.optim.SGD"}}) == []
    assert differing({"keras": {"optimizer": "Adam"}, "torch": {"optimizer": "torch.optim.SGD"}}) == ["optimizer"]
    coupled = {**same, "torch": {"weight decay": "0.01 x w, coupled (added to the gradient)"}}
    assert differing(coupled) == ["weight decay"]


def test_keras_layer_rows_are_compared_by_position_and_key_not_by_name():
    """Two Keras arms built in one worker name the same layers differently (``dense_4`` vs ``dense``): a slope
    that differs is marked (once, in the first arm's spelling), names that differ are not, and a JAX arm
    (which reads no layers) marks nothing."""
    from rich.console import Console

    from paritybench.analysis.conventions_table import differing, render, summary_lines

    def keras(first: int, slope: float, policy: str = "float32") -> dict:
        d, lr = ("dense" if first == 0 else f"dense_{first}"), ("leaky_re_lu" if first == 0 else f"leaky_re_lu_{first}")
        return {
            "optimizer": "SGD",
            f"layer {d} activation": "linear",
            f"layer {d} dtype policy": policy,
            f"layer {lr} negative_slope": slope,
            f"layer dense_{first + 1} activation": "softmax",
        }

    jax = {"optimizer": "SGD"}
    assert differing({"a": keras(4, 0.3), "b": keras(0, 0.3), "jax": jax}) == []
    table = {"a": keras(4, 0.3), "b": keras(0, 0.01), "jax": jax}
    assert differing(table) == ["layer leaky_re_lu_4 negative_slope"]
    assert differing({"a": keras(4, 0.3, "mixed_bfloat16"), "b": keras(0, 0.3)}) == ["layer dense_4 dtype policy"]
    rec = {"arms": table, "differing": differing(table)}
    assert summary_lines(rec) == ["layer leaky_re_lu_4 negative_slope: 0.3 [a]; 0.01 [b]; - [jax]"]
    console = Console(record=True, width=200)
    render(console, rec, only_differing=True)
    out = console.export_text()
    assert "0.3" in out and "0.01" in out and "softmax" not in out
    console = Console(record=True, width=200)
    render(console, rec)
    marked = [line for line in console.export_text().splitlines() if "* layer" in line]
    assert len(marked) == 2 and all("negative_slope" in line for line in marked)
    # a model with one layer more: the settings past the common layers differ (a value against none)
    longer = {**keras(0, 0.3), "layer dense_2 activation": "linear"}
    assert differing({"a": keras(4, 0.3), "b": longer}) == ["layer dense_2 activation"]


def test_keras_model_layers_loss_and_compile_read_in_full(keras):
    """A built and compiled model read as the inspection worker reads a KerasArm (its model, workload, arm)."""
    from types import SimpleNamespace

    from paritybench.arms.keras_conventions import read_conventions
    from paritybench.workloads import Arm

    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(3, activation="gelu", name="hidden"),
            keras.layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name="bn"),
            keras.layers.Dense(1, name="out"),
        ]
    )
    model.compile(optimizer=keras.optimizers.RMSprop(0.01, global_clipnorm=1.0), loss=keras.losses.Huber(delta=2.0))
    workload = SimpleNamespace(model=SimpleNamespace(init="pkg.mod:init"))
    ka = SimpleNamespace(keras=keras, model=model, workload=workload, arm=Arm("k", "k", "keras", "x"))
    rows = read_conventions(ka)
    assert rows["layer hidden activation"] == "gelu"
    assert rows["layer bn epsilon"] == 1e-5 and rows["layer bn momentum"] == 0.9
    assert "'delta': 2.0" in rows["loss"] and "'reduction': 'sum_over_batch_size'" in rows["loss"]
    assert rows["gradient clipping"] == "global norm 1" and rows["optimizer.rho"] == 0.9
    assert rows["initial weights"] == "transferred from pkg.mod:init"
    assert "jit_compile=" in rows["implementation: keras compile"]
