"""The float64 arbiter of a user's own model (issue 18, section 3): the same adapter in float64, JAX with x64
(``arms.f64``) or the user's torch module in float64 (``arms.torch_f64``), chosen by ``own_workload``'s
``reference`` ("auto": jax if given, else torch)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from paritybench.adapters.arms import JaxModel, TorchModel, dense_params, own_workload, torch_arm
from paritybench.arms import TrainSpec
from paritybench.arms.registry import kind_of
from paritybench.errors import ParityError
from paritybench.workloads import Data, Training

DECLARED = dense_params((8, 16, 1))
STEPS, LR = 20, 0.05


def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8)).astype(np.float32)
    return x, (np.sin(x[:, :1]) + 0.5 * x[:, 1:2] * x[:, 2:3]).astype(np.float32)


# One model, written by the user twice: a pure-JAX apply with optax.sgd, and a torch module with torch.optim.SGD.
def jax_init(seed):
    import jax

    k1, k2 = jax.random.split(jax.random.PRNGKey(seed))
    glorot = jax.nn.initializers.glorot_uniform()
    return {
        "hidden": {"w": glorot(k1, (8, 16)), "b": np.zeros(16, np.float32)},
        "out": {"w": glorot(k2, (16, 1)), "b": np.zeros(1, np.float32)},
    }


def jax_apply(p, x):
    import jax.numpy as jnp

    return jnp.tanh(x @ p["hidden"]["w"] + p["hidden"]["b"]) @ p["out"]["w"] + p["out"]["b"]


def jax_mse(z, y):
    import jax.numpy as jnp

    return jnp.mean(jnp.square(z - y))


def torch_build():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def torch_sgd(params, lr):
    import torch

    return torch.optim.SGD(params, lr=lr)


def torch_adam(params, lr):
    import torch

    return torch.optim.Adam(params, lr=lr, eps=1e-8)  # optax.adam's update, eps after the bias correction


def jax_model(opt="sgd"):
    import optax

    return JaxModel(jax_apply, jax_init, optax.sgd(LR) if opt == "sgd" else optax.adam(LR, eps=1e-8), jax_mse)


def torch_model(torch, opt="sgd"):
    return TorchModel(torch_build, torch_sgd if opt == "sgd" else torch_adam, torch.nn.MSELoss(), example_shape=(8,))


def workload(**models):
    return own_workload(
        "arbiter-test",
        "Which arbiter?",
        params=DECLARED,
        head="linear",
        data=Data(source=data, n=64),
        training=Training(steps=STEPS, lr=LR),
        **models,
    )


def test_auto_picks_jax_if_given_else_torch_and_records_it(torch):
    both = workload(jax=jax_model(), torch=torch_model(torch))
    ref = both.arm(both.reference)
    assert (both.reference, ref.kind, kind_of(ref).dtype) == ("reference-f64", "f64", np.float64)
    assert both.describe()["arbiter"] == {
        "arm": "reference-f64",
        "framework": "jax",
        "dtype": "float64",
        "chosen": "auto",
    }
    named = workload(jax=jax_model(), torch=torch_model(torch), reference="torch")
    assert named.arm(named.reference).kind == "torch-f64"
    jax_init0 = both.model.init(0)  # the JAX model's init(0) stays every arm's start, whichever model arbitrates
    assert all(np.array_equal(named.model.init(0)[k], jax_init0[k]) for k in DECLARED)
    only_torch = workload(torch=torch_model(torch))
    assert [a.name for a in only_torch.arms] == ["torch", "reference-f64"]
    assert only_torch.arm("reference-f64").kind == "torch-f64" and only_torch.fix == "torch"
    assert only_torch.describe()["arbiter"]["framework"] == "torch"


@pytest.mark.parametrize(
    ("models", "reference", "says"),
    [
        ({}, "flax", "reference is 'flax': give one of 'auto', 'jax', 'torch', 'keras'"),
        (
            {"torch": True},
            "jax",
            "reference='jax' runs your jax model in float64, but the workload has no jax model: "
            "give jax=JaxModel(...) or reference='auto'",
        ),
        ({"jax": True}, "torch", "has no torch model: give torch=TorchModel(...)"),
        ({"torch": True}, "keras", "the workload has no keras model: give keras='module:factory'"),
        ({}, "auto", "no model given"),
    ],
)
def test_a_reference_the_workload_cannot_run_is_one_line(torch, models, reference, says):
    given = {k: (jax_model() if k == "jax" else torch_model(torch) if k == "torch" else v) for k, v in models.items()}
    with pytest.raises(ParityError) as e:
        workload(**given, reference=reference)
    assert "\n" not in str(e.value) and says in str(e.value)


def test_without_jax_the_initial_weights_are_the_torch_modules_own(torch):
    w = workload(torch=torch_model(torch))
    init = w.model.init(3)
    torch.manual_seed(3)
    module = torch_build()  # as the user's code builds it after torch.manual_seed(seed)
    assert np.array_equal(init["dense_0/kernel"], module[0].weight.detach().numpy().T)
    assert np.array_equal(init["dense_1/bias"], module[2].bias.detach().numpy())
    assert not np.array_equal(init["dense_0/kernel"], w.model.init(4)["dense_0/kernel"])  # the seed is used


def _final64(w, arm, init, spec):
    """``arm``'s last weights as it trained them (its own dtype: float64 for an arbiter)."""
    x, y = data()
    r = kind_of(arm).train_many(w, arm, [init], x, y, spec)[0]
    return r, r.trajectory[-1]


@pytest.mark.parametrize("opt", ["sgd", "adam"])
def test_the_torch_and_jax_float64_arbiters_of_one_model_agree_to_float64_rounding(torch, opt):
    w = workload(jax=jax_model(opt), torch=torch_model(torch, opt))
    torch64 = torch_arm("torch-f64", torch_model(torch, opt), DECLARED, kind="torch-f64", role="reference")
    w = replace(w, arms=(*w.arms, torch64))
    init = w.model.init(0)
    spec = TrainSpec(steps=STEPS, lr=LR, keep_trajectory=True)
    rj, wj = _final64(w, w.arm("reference-f64"), init, spec)
    rt, wt = _final64(w, torch64, init, spec)
    assert all(v.dtype == np.float64 for v in (*wj.values(), *wt.values()))
    moved = max(float(np.max(np.abs(wt[k] - init[k]))) for k in DECLARED)
    gap = max(float(np.max(np.abs(wt[k] - wj[k]))) for k in DECLARED)
    loss_gap = max(abs(a - b) for a, b in zip(rj.curves["loss"], rt.curves["loss"], strict=True))
    print(
        f"torch f64 vs JAX f64 after {STEPS} {opt} steps: max |weight diff| {gap:.3g} (moved {moved:.3g}), "
        f"max |loss diff| {loss_gap:.3g}"
    )
    assert moved > 1e-2  # it trained
    # Two float64 programs that sum in different orders (XLA's and torch's matmul and mean reductions) differ by
    # float64 rounding: ~1e-16 relative per operation, over 20 steps on weights of size ~1 (Adam's step divides
    # by sqrt(v_hat) + eps, which amplifies a rounding difference in a small v). 1e-12 leaves room for that
    # (measured: the printed gaps) and is 10^4 below any float32 difference (~1e-7).
    assert gap < 1e-12 and loss_gap < 1e-12


def test_a_float32_torch_arm_differs_from_its_float64_arbiter_by_float32_rounding(torch):
    w = workload(torch=torch_model(torch))
    init = w.model.init(0)
    spec = TrainSpec(steps=STEPS, lr=LR, keep_trajectory=True)
    _, w32 = _final64(w, w.arm("torch"), init, spec)
    _, w64 = _final64(w, w.arm("reference-f64"), init, spec)
    assert all(v.dtype == np.float32 for v in w32.values()) and all(v.dtype == np.float64 for v in w64.values())
    gap = max(float(np.max(np.abs(w32[k] - w64[k]))) for k in DECLARED)
    print(f"torch float32 vs its float64 arbiter after {STEPS} SGD steps: max |weight diff| {gap:.3g}")
    # not zero: the arbiter really ran in float64 (a float32 run of the same program gives the same bits);
    # float32-sized: float32's unit roundoff is 6e-8, accumulated over 20 steps of weights of size ~1
    assert 1e-9 < gap < 1e-5


def torch_build_relu():
    import torch

    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))


def test_localize_and_explain_measure_a_torch_port_against_the_torch_arbiter(torch):
    """A port with another activation parts from the torch float64 arbiter at step 0 in the forward pass, at the
    first layer output the activation changes (localize's floor: the arbiter's own torch program in float32),
    and explain's forward-pass switch (the arbiter's forward pass, read as a torch arm's) closes it."""
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.pipeline import conventions, explain, localize

    relu = TorchModel(torch_build_relu, torch_sgd, torch.nn.MSELoss(), example_shape=(8,))
    w = workload(torch={"torch": torch_model(torch), "torch-relu": relu})
    assert w.arm(w.reference).kind == "torch-f64"
    x, y = data()
    ctx = localize.Context(w, LR, 2, x, y, w.model.init(0), NumericsOptions(), n=64)
    rows = conventions.collect(w, w.arms, LR, NumericsOptions())
    assert (rows["reference-f64"]["dtype"], rows["torch"]["dtype"]) == ("float64", "float32")
    cache: dict = {}
    same = localize.localize_pair(ctx, w.arm("torch"), w.arm("reference-f64"), cache)
    assert same.first is None and same.max_ratio == 1.0  # the floor's own program: exactly the floor
    e = explain.explain_pair(ctx, w.arm("torch-relu"), w.arm("reference-f64"), rows, cache).to_dict()
    # the first layer with weights after the activation: torch's forward hooks see the module "2" (the Linear
    # "0" before it is the same in both); measured: 1.06e7 x the floor, the switch brings it to 1x
    assert e["parted"] is not None, e
    assert (e["parted"]["step"], e["parted"]["phase"], e["parted"]["tensor"]) == (0, "forward", "2"), e["parted"]
    switched = {s["name"]: s for s in e["switches"]}["forward pass"]
    assert switched["applied_to"] == "torch-relu" and switched["closes"], switched
