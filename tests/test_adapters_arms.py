"""Arms from the user's own model code (``paritybench.adapters.arms``, issue 18 item 3): a pure-JAX apply over
its own pytree with an optax optimizer, and a Keras factory as compiled, paired with the declared weights by
``adapters.mapping.plan``."""

from __future__ import annotations

import inspect
import json
import os
from dataclasses import replace

import numpy as np
import pytest

from paritybench.adapters.arms import JaxModel, TorchModel, dense_params, own_workload, torch_arm
from paritybench.arms import TrainSpec, jax_trainer, torch_trainer
from paritybench.errors import ParityError
from paritybench.workloads import Arm, Data, Training
from tests.conftest import need_torch

from .conftest import ROOT, run_cli

DECLARED = dense_params((8, 16, 1))


# The user's code, as a user writes it: its own tree ("hidden"/"out", "w"/"b"), its own init, a mean loss.
def user_init(seed):
    import jax
    import jax.numpy as jnp

    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "hidden": {"w": glorot(k1, (8, 16)), "b": jnp.zeros(16)},
        "out": {"w": glorot(k2, (16, 1)), "b": jnp.zeros(1)},
    }


def user_apply(params, x):
    import jax.numpy as jnp

    h = jnp.tanh(x @ params["hidden"]["w"] + params["hidden"]["b"])
    return h @ params["out"]["w"] + params["out"]["b"]


def user_loss(z, y):
    import jax.numpy as jnp

    return jnp.mean(jnp.square(z - y))


# The same model written as a built-in declaration over the declared names.
def declared_apply(params, x):
    import jax.numpy as jnp

    h = jnp.tanh(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    return x, np.sin(x[:, :1]).astype(np.float32)


def workload(init=user_init, apply=user_apply):
    import optax

    model = JaxModel(apply, init, optax.adam(1e-2, eps=1e-7), user_loss)
    return own_workload(
        "own-test",
        "Does the adapter train what the declaration trains?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=1e-2),
        jax=model,
    )


def test_adapted_jax_arm_trains_the_same_bits_as_the_builtin_declaration():
    import optax

    w = workload()
    builtin = Arm(
        "builtin",
        "the same model declared over the declared names",
        "jax",
        "mse",
        loss_fn=user_loss,
        optimizer=lambda lr: optax.adam(1e-2, eps=1e-7),
        jax_apply=declared_apply,
    )
    w2 = replace(w, arms=(*w.arms, builtin))
    init = w.model.init(0)  # the user's init(0), under the declared names
    assert set(init) == set(DECLARED) and all(init[k].shape == DECLARED[k] for k in DECLARED)
    x, y = data()
    spec = TrainSpec(steps=20, lr=1e-2)
    adapted = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, spec)[0]
    declared = jax_trainer.train_many(w2, builtin, [init], x, y, spec)[0]
    moved = max(float(np.max(np.abs(adapted.final_weights[k] - init[k]))) for k in DECLARED)
    assert moved > 1e-3  # it trained
    for k in DECLARED:
        assert np.array_equal(adapted.final_weights[k], declared.final_weights[k]), k
    assert np.array_equal(adapted.curves["loss"], declared.curves["loss"])


def test_a_mapping_error_is_one_line_before_training():
    def wider_init(seed):
        tree = user_init(seed)
        tree["hidden"]["w"] = np.zeros((8, 32), np.float32)
        return tree

    w = workload(init=wider_init)
    with pytest.raises(ParityError) as e:
        w.model.init(0)  # the runner draws the initial weights before any arm trains
    msg = str(e.value)
    assert "\n" not in msg and "weight mapping" in msg
    assert "dense_0/kernel" in msg and "hidden/w" in msg and "overrides=" in msg


def test_a_user_function_that_raises_is_reported_at_the_users_file_and_line():
    def broken_apply(params, x):
        raise ValueError("shapes do not fit")  # the line the error names

    line = inspect.getsourcelines(broken_apply)[1] + 1
    w = workload(apply=broken_apply)
    x, _ = data()
    with pytest.raises(ParityError) as e:
        w.model.jax_apply(w.model.init(0), x)
    msg = str(e.value)
    assert "\n" not in msg
    assert f"test_adapters_arms.py:{line}" in msg and "ValueError: shapes do not fit" in msg


def test_own_models_example_runs_with_its_compiled_keras_optimizer_and_records_the_weight_maps(tmp_path):
    out = tmp_path / "own.json"
    # --lr 0.05: the models' own optimizers keep the learning rate they were built with (0.01)
    proc = run_cli("run", "--workload", "examples/own_models/workload.py", "--lr", "0.05", "--out", str(out), cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for arm in ("jax", "keras-tensorflow", "reference-f64"):
        assert f"│ {arm} " in proc.stdout
    assert "hidden/w" in proc.stderr and "identity" in proc.stderr  # the mapping table, printed
    a = json.loads(out.read_text())
    rows = a["workload"]["weight_maps"]["jax"]["rows"]
    assert [(r["sources"][0]["name"], r["target"]["name"]) for r in rows][:2] == [
        ("dense_0/kernel", "hidden/w"),
        ("dense_0/bias", "hidden/b"),
    ]
    keras_rows = a["environment"]["frameworks"]["keras-tensorflow"]["weight_maps"]["keras-tensorflow"]["rows"]
    assert {(r["sources"][0]["name"], f"{r['target']['layer']}/{r['target']['role']}") for r in keras_rows} == {
        ("dense_0/kernel", "hidden/kernel"),
        ("dense_0/bias", "hidden/bias"),
        ("dense_1/kernel", "out/kernel"),
        ("dense_1/bias", "out/bias"),
    }
    runs = {r["arm"]: r for r in a["runs"]}
    assert all(r["status"] == "ok" for r in runs.values())
    # the compiled Adam trained the Keras arm (plain SGD at lr 0.01 would barely move the loss in 20 steps)
    conv = a["conventions"]["arms"]
    assert (conv["keras-tensorflow"]["optimizer"], conv["keras-tensorflow"]["optimizer.learning_rate"]) == (
        "Adam",
        0.01,
    )
    assert conv["jax"]["optimizer.learning_rate"] == 0.01
    assert runs["keras-tensorflow"]["final_loss"] < 0.5 * runs["keras-tensorflow"]["curves"]["loss"][0]
    assert abs(runs["jax"]["final_loss"] - runs["reference-f64"]["final_loss"]) < 1e-5


def user_torch_model():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def user_torch_adam(params, lr):
    import torch

    return torch.optim.Adam(params, lr=lr, eps=1e-7)  # optax.adam(eps=1e-7) above: the same update


def declared_torch_apply(p, x):
    import torch.nn.functional as F

    h = F.linear(x, p["dense_0/kernel"].T, p["dense_0/bias"]).tanh()
    return F.linear(h, p["dense_1/kernel"].T, p["dense_1/bias"])


def test_adapted_torch_module_trains_the_same_bits_as_the_builtin_declaration(torch):
    w = workload()
    model = TorchModel(user_torch_model, user_torch_adam, torch.nn.MSELoss(), example_shape=(8,))
    adapted = torch_arm("torch", model, DECLARED)
    builtin = replace(
        adapted, name="builtin", torch_apply=declared_torch_apply, torch_loss=torch.nn.functional.mse_loss
    )
    w2 = replace(w, arms=(*w.arms, adapted, builtin))
    init = w.model.init(0)
    x, y = data()
    spec = TrainSpec(steps=20, lr=1e-2)
    ra = torch_trainer.train_many(w2, adapted, [init], x, y, spec)[0]
    rb = torch_trainer.train_many(w2, builtin, [init], x, y, spec)[0]
    rows = [(r.sources[0].name, r.target.name, r.transform) for r in model.weight_map(DECLARED).rows]
    assert rows == [
        ("dense_0/kernel", "0.weight", "transpose"),
        ("dense_0/bias", "0.bias", "identity"),
        ("dense_1/kernel", "2.weight", "transpose"),
        ("dense_1/bias", "2.bias", "identity"),
    ]
    assert max(float(np.max(np.abs(ra.final_weights[k] - init[k]))) for k in DECLARED) > 1e-3
    for k in DECLARED:
        assert np.array_equal(ra.final_weights[k], rb.final_weights[k]), k
    # and it trains what the adapted JAX arm trains, within float32 rounding
    rj = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, spec)[0]
    gap = max(float(np.max(np.abs(ra.final_weights[k] - rj.final_weights[k]))) for k in DECLARED)
    print(f"torch adapter vs JAX adapter, final weights after 20 Adam steps: max |diff| {gap:.3g}")
    assert gap < 1e-5


def user_torch_sgd(params, lr):
    import torch

    return torch.optim.SGD(params, lr=lr)


def user_clip(parameters):
    import torch

    torch.nn.utils.clip_grad_norm_(parameters, 0.1)


def test_a_torch_hook_runs_between_backward_and_step_like_optax_clipping(torch):
    import optax

    jax_model = JaxModel(user_apply, user_init, optax.chain(optax.clip_by_global_norm(0.1), optax.sgd(0.05)), user_loss)
    w = own_workload(
        "own-clip",
        "Does a torch hook clip as optax's clip_by_global_norm does?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=0.05),
        jax=jax_model,
    )
    clipped = torch_arm(
        "clipped", TorchModel(user_torch_model, user_torch_sgd, torch.nn.MSELoss(), hook=user_clip), DECLARED
    )
    plain = torch_arm("plain", TorchModel(user_torch_model, user_torch_sgd, torch.nn.MSELoss()), DECLARED)
    w2 = replace(w, arms=(*w.arms, clipped, plain))
    init, (x, y) = w.model.init(0), data()
    spec = TrainSpec(steps=20, lr=0.05)
    rc = torch_trainer.train_many(w2, clipped, [init], x, y, spec)[0]
    rp = torch_trainer.train_many(w2, plain, [init], x, y, spec)[0]
    rj = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, spec)[0]

    def gap(a, b):
        return max(float(np.max(np.abs(a.final_weights[k] - b.final_weights[k]))) for k in DECLARED)

    print(f"torch hook clip vs optax clip_by_global_norm: {gap(rc, rj):.3g}; unclipped vs clipped: {gap(rp, rc):.3g}")
    assert gap(rc, rj) < 1e-5  # torch divides by (norm + 1e-6), optax by the norm: a relative 1e-6 per step
    assert gap(rp, rc) > 1e-3  # the hook clipped: the gradient norm is above 0.1 at the start
    assert (
        rc.curves["grad_norm"][0] > 0.1 and rc.curves["grad_norm"][0] == rp.curves["grad_norm"][0]
    )  # recorded before the hook


def test_localize_finds_where_the_own_models_part_adams_epsilon_placement(tmp_path):
    out = tmp_path / "loc.json"
    proc = run_cli(
        "localize",
        "--workload",
        "examples/own_models/workload.py",
        "--out",
        str(out),
        cwd=ROOT,
    )
    # every arm against the arbiter, itself the user's JAX model in float64: before, the adapter's optimizer state
    # kept Adam's moments in the user's tree, and comparing two such states crashed (TypeError, exit 1)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = " ".join(proc.stdout.split())
    assert "jax vs reference-f64: never part" in text
    # optax puts epsilon after the bias correction, Keras before it: the first update already parts
    assert "keras-tensorflow vs reference-f64: step 0, update, dense_0/kernel" in text


def test_the_adapters_optimizer_state_names_its_moments_as_the_declared_weights():
    import optax

    model = JaxModel(user_apply, user_init, optax.adam(1e-2, eps=1e-7), user_loss)
    opt = model.optimizer(DECLARED)(1e-2)
    flat = {k: np.ones(s, np.float32) for k, s in DECLARED.items()}
    state = opt.init(flat)
    moments = jax_trainer.optimizer_moments(state)
    assert sorted(moments) == sorted([f"adam/{m}/{k}" for m in ("mu", "nu") for k in DECLARED])
    updates, state = opt.update(flat, state, flat)  # the user's transformation sees its own tree and runs
    assert sorted(updates) == sorted(DECLARED)
    assert float(np.max(jax_trainer.optimizer_moments(state)["adam/nu/dense_0/kernel"])) > 0


def test_overrides_settle_a_tree_listed_out_of_forward_order():
    import optax

    def reversed_init(seed):
        tree = user_init(seed)
        return {"out": tree["out"], "hidden": tree["hidden"]}  # the output layer first: order pairs it wrongly

    def model(**kw):
        return JaxModel(user_apply, reversed_init, optax.adam(1e-2, eps=1e-7), user_loss, **kw)

    with pytest.raises(ParityError, match="weight mapping: .*dense_0/kernel.*out/w.*overrides="):
        model().weight_map(DECLARED)
    fixed = model(
        mapping={
            "overrides": {
                "hidden/w": "dense_0/kernel",
                "hidden/b": "dense_0/bias",
                "out/w": "dense_1/kernel",
                "out/b": "dense_1/bias",
            }
        }
    )
    rows = [(r.target.name, r.sources[0].name, r.by) for r in fixed.weight_map(DECLARED).rows]
    assert ("hidden/w", "dense_0/kernel", "override") in rows and ("out/w", "dense_1/kernel", "override") in rows
    x, _ = data()
    w = workload()
    init = w.model.init(0)
    assert np.array_equal(np.asarray(fixed.jax_apply(DECLARED)(init, x)), np.asarray(w.model.jax_apply(init, x)))


# ------------------------------------------- the torch adapter's forward pass: every layout rule, against Keras


def keras_rnn(cell):
    def build():
        import keras

        rnn = keras.layers.LSTM(4, name="rnn") if cell == "lstm" else keras.layers.GRU(4, name="rnn")
        return keras.Sequential([keras.Input((5, 3)), rnn, keras.layers.Dense(2, name="out")])

    return build


def torch_rnn(cell):
    def build():
        import torch

        class UserRNN(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = (torch.nn.LSTM if cell == "lstm" else torch.nn.GRU)(3, 4, batch_first=True)
                self.out = torch.nn.Linear(4, 2)

            def forward(self, x):
                h, _ = self.rnn(x)
                return self.out(h[:, -1])

        return UserRNN()

    return build


def keras_convnet():
    import keras

    return keras.Sequential(
        [
            keras.Input((6, 6, 2)),
            keras.layers.Conv2D(3, 3, activation="relu", name="conv"),
            keras.layers.Flatten(),
            keras.layers.Dense(4, name="out"),
        ]
    )


def torch_convnet():
    import torch

    class UserConvNet(torch.nn.Module):  # the user's own module on channels-last data: it permutes the input
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(2, 3, 3)
            self.flat = torch.nn.Flatten()
            self.out = torch.nn.Linear(3 * 4 * 4, 4)

        def forward(self, x):
            return self.out(self.flat(torch.relu(self.conv(x.permute(0, 3, 1, 2)))))

    return UserConvNet()


RNN_DECLARED = {
    "lstm": {"rnn/kernel": (3, 16), "rnn/recurrent_kernel": (4, 16), "rnn/bias": (16,)},
    "gru": {"rnn/kernel": (3, 12), "rnn/recurrent_kernel": (4, 12), "rnn/bias": (2, 12)},
}
ADAPTER_CASES = {
    # case: declared weights, the user's Keras factory and torch factory, one sample's shape, the transforms the
    # plan must choose, and the literal port's mapping (the rule left out) that must part
    "lstm": (
        {**RNN_DECLARED["lstm"], "out/kernel": (4, 2), "out/bias": (2,)},
        keras_rnn("lstm"),
        torch_rnn("lstm"),
        (5, 3),
        ["transpose", "transpose", "identity", "zeros", "transpose", "identity"],
        {"overrides": {"rnn.bias_hh_l0": "rnn/bias"}},  # Keras's one bias copied into both of torch's
    ),
    "gru": (
        {**RNN_DECLARED["gru"], "out/kernel": (4, 2), "out/bias": (2,)},
        keras_rnn("gru"),
        torch_rnn("gru"),
        (5, 3),
        ["gru_kernel_to_torch"] * 2
        + ["gru_input_bias_to_torch", "gru_recurrent_bias_to_torch"]
        + ["transpose", "identity"],
        {"transforms": {"rnn.weight_ih_l0": "transpose", "rnn.weight_hh_l0": "transpose"}},  # gates left z, r, h
    ),
    "conv-flatten-dense": (
        {"conv/kernel": (3, 3, 2, 3), "conv/bias": (3,), "out/kernel": (48, 4), "out/bias": (4,)},
        keras_convnet,
        torch_convnet,
        (6, 6, 2),
        ["hwio_to_oihw", "identity", "flatten_to_channels_first(4,4,3)", "identity"],
        {"transforms": {"out.weight": "transpose"}},  # the Flatten's order ignored
    ),
}


@pytest.fixture(scope="module")
def keras_and_torch():
    """Keras (on the JAX backend unless Keras is loaded already) and torch, in-process; a skip without torch."""
    need_torch()
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KERAS_BACKEND", os.environ.get("KERAS_BACKEND", "jax"))
        mp.setenv("JAX_PLATFORMS", os.environ.get("JAX_PLATFORMS", "cpu"))
        import keras
        import torch

    return keras, torch


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(ADAPTER_CASES))
def test_the_torch_adapter_runs_the_keras_models_weights_forward_and_back(keras_and_torch, case):
    """The same declared weights in the user's Keras model (``keras_build``) and through the torch adapter's
    forward pass (``TorchModel.torch_apply``: the layout rules as torch ops) give the same outputs to float32
    rounding; the gradient on the declared weights is the module's own gradient carried back through the rule
    (the inverse layout); and the literal port parts."""
    from paritybench.adapters.arms import declared_table, keras_build
    from paritybench.adapters.mapping import plan as map_plan
    from paritybench.adapters.torch_params import assign_torch, read_torch

    from .test_adapters_mapping import PART, ULPS

    keras, torch = keras_and_torch
    declared, keras_factory, torch_factory, sample, transforms, literal = ADAPTER_CASES[case]
    rng = np.random.default_rng(21)
    weights = {k: rng.normal(scale=0.5, size=s).astype(np.float32) for k, s in declared.items()}
    x = rng.normal(size=(6, *sample)).astype(np.float32)

    km, variables = keras_build(keras_factory, declared)(keras)
    for k, v in variables.items():
        v.assign(weights[k])
    yk = np.asarray(km(x, training=False))

    def through_adapter(**mapping):
        model = TorchModel(torch_factory, user_torch_sgd, torch.nn.MSELoss(), mapping=mapping)
        params = {k: torch.tensor(w, requires_grad=True) for k, w in weights.items()}
        y = model.torch_apply(declared)(params, torch.as_tensor(x))
        return model, params, y

    model, params, yt = through_adapter()
    wmap = model.weight_map(declared)
    assert [r.transform for r in wmap.rows] == transforms
    d, scale = float(np.max(np.abs(yk - yt.detach().numpy()))), float(np.max(np.abs(yk)))
    print(f"{case}: Keras vs the torch adapter, max|diff| {d:.3g} at max|y| {scale:.3g}\n{wmap.text()}")
    assert d <= ULPS * max(1.0, scale)

    # backward: the module itself, given the mapped weights, and its gradients mapped back to the declared layout
    yt.square().sum().backward()
    module = torch_factory()
    example = torch.as_tensor(x[:1])
    assign_torch(module, map_plan(declared_table(declared), read_torch(module, example)).apply(weights))
    module(torch.as_tensor(x)).square().sum().backward()
    grads = {k: p.grad.numpy() for k, p in module.named_parameters()}
    back = map_plan(read_torch(module, example), declared_table(declared)).apply(grads)
    if case == "lstm":  # torch's bias_hh is the adapter's constant zero: the declared bias is bias_ih alone
        back["rnn/bias"] = grads["rnn.bias_ih_l0"]
    for k in declared:
        np.testing.assert_allclose(params[k].grad.numpy(), back[k], rtol=1e-6, atol=1e-6, err_msg=k)

    _, _, y_literal = through_adapter(**literal)
    gap = float(np.max(np.abs(yk - y_literal.detach().numpy())))
    print(f"{case}: the literal port, max|diff| {gap:.3g}")
    assert gap > PART


# ------------------------------------------------------------------- a Keras model trained by train_on_batch


def test_a_keras_step_that_is_not_known_is_refused_in_one_line():
    from paritybench.workloads.base import field_problem

    w = workload()
    bad = replace(w, arms=(*w.arms, Arm.keras("tensorflow", "a loop", "keras_model:loss", keras_step="fit_generator")))
    assert (
        field_problem(bad) == "arm keras-tensorflow: keras_step is 'fit_generator': give one of 'fit', 'train_on_batch'"
    )


def test_train_on_batch_trains_the_same_bits_as_fit_and_shows_in_conventions(tmp_path, api_run):
    for f in (ROOT / "examples" / "own_models").glob("*.py"):
        (tmp_path / f.name).write_text(f.read_text())
    with (tmp_path / "workload.py").open("a") as f:
        f.write(
            "\nfrom dataclasses import replace\n\n"
            'KERAS = replace(WORKLOAD.arm("keras-tensorflow"), name="keras-loop", keras_step="train_on_batch")\n'
            "WORKLOAD = replace(WORKLOAD, arms=(*WORKLOAD.arms, KERAS))\n"
        )
    out = tmp_path / "tob.json"
    arms = "keras-tensorflow,keras-loop"
    api_run(tmp_path / "workload.py", arms=arms, out=out)  # in this process; raises where an arm errors (exit 1)
    runs = {r["arm"]: r for r in json.loads(out.read_text())["runs"]}
    fit, loop = runs["keras-tensorflow"], runs["keras-loop"]
    assert fit["status"] == loop["status"] == "ok"
    assert loop["curves"]["loss"][-1] < 0.5 * loop["curves"]["loss"][0]  # the compiled Adam trained it
    # the same compiled train function once per step: the same bits (Keras's trainer.py fit and train_on_batch)
    assert (
        fit["curves"]["loss"] == loop["curves"]["loss"] and fit["final_weights_sha256"] == loop["final_weights_sha256"]
    )
    proc = run_cli("conventions", "--workload", str(tmp_path / "workload.py"), "--arms", arms, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    assert "1 settings differ across 2 arms: training step" in text and "model.train_on_batch" in text
