"""flax models through the JAX adapter (``paritybench.adapters.flax_models``, issue 18 item 3): a linen
``module.apply`` and an nnx split/merge model train, as a JaxModel, what the same arithmetic written as a pure
``apply(params, x)`` trains. flax is the optional extra ``flax``: these tests skip without it, and fail instead
when PARITYBENCH_REQUIRE_FLAX=1 (CI installs it: .ci/run)."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest

from paritybench.adapters.arms import JaxModel, own_workload
from paritybench.arms import TrainSpec, jax_trainer
from paritybench.workloads import Data, Training

from .test_adapters_arms import DECLARED, data, user_apply, user_init, user_loss


@pytest.fixture(scope="module", autouse=True)
def flax_installed():
    if importlib.util.find_spec("flax") is None:
        why = 'flax is not installed: make setup EXTRAS="--extra cpu --extra flax"'
        if os.environ.get("PARITYBENCH_REQUIRE_FLAX") == "1":
            pytest.fail(f"PARITYBENCH_REQUIRE_FLAX=1 but {why}")
        pytest.skip(why)


def user_linen():
    """The user's linen module, compact, written so that flax names the output layer ``Dense_0`` (Python builds
    ``nn.Dense(1)`` before its argument) though the hidden one, ``Dense_1``, runs first."""
    import jax.numpy as jnp
    from flax import linen as nn

    class Regressor(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(jnp.tanh(nn.Dense(16)(x)))

    return Regressor()


def user_nnx(seed):
    """The user's nnx module, its attributes named so that nnx's sorted state lists the output layer first."""
    import jax.numpy as jnp
    from flax import nnx

    class Regressor(nnx.Module):
        def __init__(self, rngs):
            self.z_hidden = nnx.Linear(8, 16, rngs=rngs)
            self.a_out = nnx.Linear(16, 1, rngs=rngs)

        def __call__(self, x):
            return self.a_out(jnp.tanh(self.z_hidden(x)))

    return Regressor(nnx.Rngs(seed))


def own(model: JaxModel):
    return own_workload(
        "own-flax",
        "Does the flax adapter train what a pure apply trains?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=1e-2),
        jax=model,
    )


def trained(model: JaxModel, init=None):
    w = own(model)
    init = w.model.init(0) if init is None else init
    x, y = data()
    return init, jax_trainer.train_many(w, w.arm("jax"), [init], x, y, TrainSpec(steps=20, lr=1e-2))[0], w


def gap(a, b) -> float:
    return max(float(np.max(np.abs(a.final_weights[k] - b.final_weights[k]))) for k in DECLARED)


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_a_flax_model_trains_what_the_same_pure_apply_trains(kind):
    import optax

    from paritybench.adapters.flax_models import linen_model, nnx_model

    opt = optax.adam(1e-2, eps=1e-7)
    model = linen_model(user_linen(), (8,), opt, user_loss) if kind == "linen" else nnx_model(user_nnx, opt, user_loss)
    targets = [r.target.name for r in model.weight_map(DECLARED).rows]
    # paired in forward order: linen's params are created at each submodule's first call (not in its names'
    # order), nnx's by __init__'s assignment order (not its sorted state)
    first = {"linen": "Dense_1/kernel", "nnx": "z_hidden/kernel"}[kind]
    assert targets[0] == first and all(r.transform == "identity" for r in model.weight_map(DECLARED).rows)
    init, flax_run, w = trained(model)
    _, pure_run, _ = trained(JaxModel(user_apply, user_init, opt, user_loss), init)
    moved = max(float(np.max(np.abs(flax_run.final_weights[k] - init[k]))) for k in DECLARED)
    diff = gap(flax_run, pure_run)
    print(f"{kind}: moved {moved:.3g}, flax vs the pure apply after 20 Adam steps: max|diff| {diff:.3g}")
    assert moved > 1e-3 and gap(flax_run, pure_run) <= 1e-6
    if kind == "linen":  # localize's forward phase: every submodule's output, by flax's own paths, in order
        layers = w.arm("jax").jax_layers(init, data()[0])
        assert list(layers) == ["Dense_1", "Dense_0"] and layers["Dense_1"].shape == (64, 16)


def test_a_linen_module_with_batch_stats_is_refused_in_one_line():
    import optax
    from flax import linen as nn

    from paritybench.adapters.flax_models import linen_model
    from paritybench.errors import ParityError

    class WithNorm(nn.Module):
        @nn.compact
        def __call__(self, x):
            return nn.Dense(1)(nn.BatchNorm(use_running_average=True)(nn.Dense(16)(x)))

    model = linen_model(WithNorm(), (8,), optax.sgd(0.1), user_loss)
    with pytest.raises(ParityError, match=r"variable collections \['batch_stats'\] besides params") as e:
        model.weight_map(DECLARED)
    assert "\n" not in str(e.value)


def test_the_own_flax_example_runs_and_localizes_layer_by_layer(tmp_path):
    import json

    from .conftest import ROOT, run_cli

    workload = str(ROOT / "examples" / "own_flax" / "workload.py")
    out = tmp_path / "flax.json"
    proc = run_cli("run", "--workload", workload, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = json.loads(out.read_text())
    rows = a["workload"]["weight_maps"]["jax"]["rows"]
    assert [(r["sources"][0]["name"], r["target"]["name"]) for r in rows][::2] == [
        ("dense_0/kernel", "hidden/kernel"),
        ("dense_1/kernel", "out/kernel"),
    ]
    runs = {r["arm"]: r for r in a["runs"]}
    ref = runs["reference-f64"]["final_loss"]
    assert set(runs) == {"jax", "jax-step", "keras-tensorflow", "reference-f64"}
    # the user's jitted linen train_step: the same bits as the adapter's step, its losses held to paritybench's
    assert runs["jax-step"]["final_weights_sha256"] == runs["jax"]["final_weights_sha256"]
    assert runs["jax-step"]["info"]["user_step"]["agrees"], runs["jax-step"]["info"]["user_step"]
    for arm, r in runs.items():
        assert r["status"] == "ok" and r["curves"]["loss"][-1] < r["curves"]["loss"][0] / 2, arm
        assert abs(r["final_loss"] - ref) <= 1e-5 * ref, arm
    loc = tmp_path / "loc.json"
    proc = run_cli("localize", "--workload", workload, "--arms", "jax", "--out", str(loc), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (pair,) = json.loads(loc.read_text())["pairs"]
    forward = [c["tensor"] for c in pair["checks"] if c["step"] == 0 and c["phase"] == "forward"]
    assert forward == ["hidden", "out", "logits"]  # linen's intermediates, by the user's own names, in order


# The user's own train steps, as flax users write them: a linen step in plain JAX over the params collection, an
# nnx step over the model and its nnx.Optimizer, updated in place.
def linen_step(module, optimizer, clip=None):
    import jax
    import optax

    @jax.jit
    def train_step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(lambda p: user_loss(module.apply({"params": p}, x), y))(params)
        if clip is not None:
            grads, _ = clip.update(grads, clip.init(params))
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return train_step


def nnx_step(clip=None):
    import jax
    from flax import nnx

    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(lambda m: user_loss(m(x), y))(model)
        if clip is not None:
            grads = jax.tree.map(lambda g: g * 0.5, grads)  # a step that scales its gradient, inside
        optimizer.update(model, grads)
        return loss

    return train_step


def stepped(kind, clip=None):
    import optax

    from paritybench.adapters.flax_models import linen_model, nnx_model

    opt = optax.adam(1e-2, eps=1e-7)
    if kind == "linen":
        module = user_linen()
        clipper = optax.clip_by_global_norm(0.05) if clip else None
        return linen_model(module, (8,), opt, user_loss, linen_step(module, opt, clipper))
    return nnx_model(user_nnx, opt, user_loss, nnx_step(clip))


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_a_flax_models_own_train_step_trains_what_the_adapters_step_trains(kind):
    from paritybench.experiment.weights import weights_sha256

    w = own(stepped(kind))
    assert [a.name for a in w.arms] == ["jax", "jax-step", "reference-f64"]
    init = w.model.init(0)
    x, y = data()
    spec = TrainSpec(steps=20, lr=1e-2)
    ours = jax_trainer.train_many(w, w.arm("jax"), [init], x, y, spec)[0]
    theirs = jax_trainer.train_many(w, w.arm("jax-step"), [init], x, y, spec)[0]
    moved = max(float(np.max(np.abs(theirs.final_weights[k] - init[k]))) for k in DECLARED)
    diff = gap(theirs, ours)
    print(f"{kind} step: moved {moved:.3g}, its step vs the adapter's after 20 Adam steps: max|diff| {diff:.3g}")
    # the same bits (measured: max|diff| 0 for both): the linen step is the adapter's program written out; the nnx
    # step's nnx.value_and_grad and Optimizer.update compute the same gradient and optax update on the merged model
    assert moved > 1e-3 and weights_sha256(theirs.final_weights) == weights_sha256(ours.final_weights)
    rec = theirs.info["user_step"]
    assert rec["agrees"] and rec["step"].endswith("train_step") and len(rec["loss"]) == 20, rec


@pytest.mark.parametrize("kind", ["linen", "nnx"])
def test_a_flax_step_that_changes_the_gradient_parts_at_step_0_in_the_update_phase(kind):
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.pipeline import localize

    w = own(stepped(kind, clip=True))
    x, y = data()
    ctx = localize.Context(w, w.training.lr, 3, x, y, w.model.init(0), NumericsOptions(), n=64)
    cache: dict = {}
    r = localize.localize_pair(ctx, w.arm("jax-step"), w.arm("reference-f64"), cache)
    print(r.line())
    assert r.first is not None and (r.first.step, r.first.phase) == (0, "update"), r.line()
    plain = localize.localize_pair(ctx, w.arm("jax"), w.arm("reference-f64"), cache)
    assert plain.first is None, plain.line()


def nnx_none():
    from flax import nnx

    @nnx.jit
    def train_step(model, optimizer, x, y):
        optimizer.update(model, nnx.grad(lambda m: user_loss(m(x), y))(model))  # returns nothing

    return train_step


def nnx_three():
    def train_step(model, optimizer, x, y):
        return 0.0, 1.0, 2.0

    return train_step


def nnx_vector():
    def train_step(model, optimizer, x, y):
        return {"loss": model(x)}

    return train_step


def nnx_raises():
    def train_step(model, optimizer, x, y):
        raise KeyError("encoder")  # the line the error names

    return train_step


@pytest.mark.parametrize(
    ("make", "problem", "below"),
    [
        (nnx_none, "returns None", 4),
        (nnx_three, "returns a 3-tuple", 1),
        (nnx_vector, "returns a loss of shape (64, 1), not a scalar", 1),
        (nnx_raises, "KeyError: 'encoder'", 2),
    ],
)
def test_an_nnx_step_returning_the_wrong_things_is_one_line_naming_its_file_before_training(make, problem, below):
    import inspect

    import optax

    from paritybench.adapters.flax_models import nnx_model
    from paritybench.errors import ParityError

    w = own(nnx_model(user_nnx, optax.sgd(0.1), user_loss, make()))
    x, _ = data()
    with pytest.raises(ParityError) as e:
        jax_trainer.JaxKind().forward_shape(w, w.arm("jax-step"), x, w.model.init(0))  # check_forward, before training
    msg = str(e.value)
    line = inspect.getsourcelines(make)[1] + below  # the step's def (under its decorator), or the raising line
    assert "\n" not in msg and problem in msg and f"test_adapters_flax.py:{line}" in msg, msg


def linen_two_things():
    import jax

    @jax.jit
    def train_step(params, opt_state, x, y):
        return params, opt_state  # the line the error names is the def above

    return train_step


def test_a_linen_step_returning_the_wrong_things_is_one_line_naming_its_file_before_training():
    import inspect

    import optax

    from paritybench.adapters.flax_models import linen_model
    from paritybench.errors import ParityError

    w = own(linen_model(user_linen(), (8,), optax.sgd(0.1), user_loss, linen_two_things()))
    x, _ = data()
    with pytest.raises(ParityError) as e:
        jax_trainer.JaxKind().forward_shape(w, w.arm("jax-step"), x, w.model.init(0))
    msg = str(e.value)
    line = inspect.getsourcelines(linen_two_things)[1] + 4
    assert "\n" not in msg and "returns a 2-tuple" in msg and f"test_adapters_flax.py:{line}" in msg, msg


def warmup(step):
    """A step-count schedule: 0.1 at step 0, rising by 0.1 a step to 1 (as a warmup reads the step count)."""
    import jax.numpy as jnp

    return jnp.minimum(1.0, 0.1 * (step.astype(jnp.float32) + 1.0))


def nnx_warmup_step():
    """An nnx step whose update depends on its optimizer's own step counter (``nnx.Optimizer.step``, which
    ``Optimizer.update`` increments: flax/nnx/training/optimizer.py:161, :229): the gradient scaled by a warmup."""
    import jax
    from flax import nnx

    @nnx.jit
    def train_step(model, optimizer, x, y):
        loss, grads = nnx.value_and_grad(lambda m: user_loss(m(x), y))(model)
        scale = warmup(optimizer.step[...])
        optimizer.update(model, jax.tree.map(lambda g: g * scale, grads))
        return loss

    return train_step


def test_an_nnx_step_that_reads_its_optimizers_step_count_sees_it_carried_between_steps():
    """The nnx Optimizer's ``step`` is carried between the arm's steps as optax's state is: a step whose warmup
    reads it trains the bits of the non-step arm whose optax chain scales by the same schedule of optax's own count
    (``optax.scale_by_schedule``). Adam's bias correction reads optax's ``count`` (optax/_src/transform.py
    scale_by_adam: ``count_inc``), which was carried already: the Adam step arm above ends with the bits of the
    non-step arm."""
    import optax

    from paritybench.adapters.flax_models import nnx_model
    from paritybench.experiment.weights import weights_sha256

    lr = 1e-2
    scheduled = nnx_model(user_nnx, optax.chain(optax.scale_by_schedule(warmup), optax.sgd(lr)), user_loss)
    own_step = nnx_model(user_nnx, optax.sgd(lr), user_loss, nnx_warmup_step())
    init, plain, _w = trained(scheduled)
    w = own(own_step)
    x, y = data()
    theirs = jax_trainer.train_many(w, w.arm("jax-step"), [init], x, y, TrainSpec(steps=20, lr=lr))[0]
    moved = max(float(np.max(np.abs(theirs.final_weights[k] - init[k]))) for k in DECLARED)
    diff = gap(theirs, plain)
    print(f"nnx warmup step: moved {moved:.3g}, vs optax's scheduled chain after 20 steps: max|diff| {diff:.3g}")
    assert moved > 1e-3 and weights_sha256(theirs.final_weights) == weights_sha256(plain.final_weights)
