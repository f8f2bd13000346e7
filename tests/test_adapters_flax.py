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


def trained(model: JaxModel, init=None):
    w = own_workload(
        "own-flax",
        "Does the flax adapter train what a pure apply trains?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=20, lr=1e-2),
        jax=model,
    )
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
    assert set(runs) == {"jax", "keras-tensorflow", "reference-f64"}
    for arm, r in runs.items():
        assert r["status"] == "ok" and r["curves"]["loss"][-1] < r["curves"]["loss"][0] / 2, arm
        assert abs(r["final_loss"] - ref) <= 1e-5 * ref, arm
    loc = tmp_path / "loc.json"
    proc = run_cli("localize", "--workload", workload, "--arms", "jax", "--out", str(loc), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (pair,) = json.loads(loc.read_text())["pairs"]
    forward = [c["tensor"] for c in pair["checks"] if c["step"] == 0 and c["phase"] == "forward"]
    assert forward == ["hidden", "out", "logits"]  # linen's intermediates, by the user's own names, in order
