"""init-defaults: each framework's default initialiser pinned on constructed shapes, the per-arm
initial weights reaching the runner, and the Mann-Whitney comparison of arms within a sweep."""

from __future__ import annotations

import math

import numpy as np
import pytest

from paritybench.analysis import arm_distributions as ad
from paritybench.workloads.init_defaults import initializers as ini

FAN_IN, FAN_OUT = 400, 600
SHAPES = {"dense_0/kernel": (FAN_IN, FAN_OUT), "dense_0/bias": (FAN_OUT,)}
TRUNC_STD = 0.87962566103423978  # std of a standard normal truncated to +-2 (jax's variance_scaling)


def test_torch_bound_is_one_over_sqrt_fan_in():
    # kaiming_uniform(a=sqrt 5): gain sqrt(2/6) times sqrt(3/fan_in) is exactly 1/sqrt(fan_in)
    for fan_in in (1, 784, 1000):
        assert ini.torch_bound(fan_in) == pytest.approx(1 / math.sqrt(fan_in), rel=1e-12)


def test_each_default_draws_its_distribution():
    w = {d: ini.init_with(d, SHAPES, seed=0) for d in ini.DEFAULTS}
    k, b = "dense_0/kernel", "dense_0/bias"
    glorot = math.sqrt(6 / (FAN_IN + FAN_OUT))
    # Keras: U(+-glorot limit), zero bias; the uniform's std is limit/sqrt(3)
    assert np.abs(w["keras"][k]).max() <= glorot and np.abs(w["keras"][k]).max() > 0.99 * glorot
    assert w["keras"][k].std() == pytest.approx(glorot / math.sqrt(3), rel=0.01)
    assert not w["keras"][b].any()
    # flax: lecun_normal, std 1/sqrt(fan_in) after truncation at 2 sd of the pre-truncation normal
    std = 1 / math.sqrt(FAN_IN)
    assert w["flax"][k].std() == pytest.approx(std, rel=0.01)
    assert np.abs(w["flax"][k]).max() <= 2 * std / TRUNC_STD + 1e-7
    assert not w["flax"][b].any()
    # torch: weight and bias both U(+-1/sqrt(fan_in)) (the bias uses the layer's fan_in, not its size)
    bound = 1 / math.sqrt(FAN_IN)
    for name in (k, b):
        assert np.abs(w["torch"][name]).max() <= bound and np.abs(w["torch"][name]).max() > 0.98 * bound
    assert w["torch"][k].std() == pytest.approx(bound / math.sqrt(3), rel=0.01)
    # stax: glorot_normal (truncated, std sqrt(2/(fi+fo))), bias normal(1e-2)
    gstd = math.sqrt(2 / (FAN_IN + FAN_OUT))
    assert w["stax"][k].std() == pytest.approx(gstd, rel=0.01)
    assert np.abs(w["stax"][k]).max() <= 2 * gstd / TRUNC_STD + 1e-7
    assert w["stax"][b].std() == pytest.approx(1e-2, rel=0.1)
    for d in ini.DEFAULTS:
        assert all(v.dtype == np.float32 for v in w[d].values())


def test_draws_depend_on_the_seed_only():
    a, b, c = (ini.init_with("torch", SHAPES, s) for s in (3, 3, 4))
    assert all(np.array_equal(a[n], b[n]) for n in SHAPES)
    assert not np.array_equal(a["dense_0/kernel"], c["dense_0/kernel"])


def test_runner_trains_each_arm_from_its_own_initializer():
    """Step 0's loss is the loss at the arm's own initial weights: torch's arm starts elsewhere,
    the reference starts from Keras's default like jax-keras-init (float64 vs float32)."""
    from paritybench.experiment.config import RunConfig
    from paritybench.pipeline import runner
    from paritybench.workloads import load

    w = load("init-defaults")
    cfg = RunConfig(
        seeds=(0,),
        windows=(0,),
        n=40,
        steps=1,
        lr=0.01,
        normalize=False,
        arms=w.arm_names,
        workload="init-defaults",
        swap=False,
    )
    out = runner.run(cfg, keep_trajectory=False)
    loss0 = {r["arm"]: r["curves"]["loss"][0] for r in out.runs}
    assert {r["status"] for r in out.runs} == {"ok"}
    assert loss0["reference-f64"] == pytest.approx(loss0["jax-keras-init"], rel=1e-4)
    assert abs(loss0["jax-torch-init"] - loss0["jax-keras-init"]) > 0.1 * loss0["jax-keras-init"]
    others = [loss0[a] for a in ("jax-flax-init", "jax-torch-init", "jax-stax-init")]
    assert all(abs(v - loss0["jax-keras-init"]) > 1e-3 for v in others)  # three other starting points


def _artifact(finals: dict[str, list[float]]) -> dict:
    return {
        "runs": [
            {"arm": a, "status": "ok", "final_accuracy": v, "final_loss": 1 - v, "curves": {"loss": [2 * v, 1 - v]}}
            for a, vs in finals.items()
            for v in vs
        ]
    }


def test_mann_whitney_between_arms():
    rng = np.random.default_rng(0)
    base = list(rng.normal(0.9, 0.01, 20))
    art = _artifact({"a": base, "b": list(rng.normal(0.9, 0.01, 20)), "far": [x - 0.1 for x in base]})
    res = {(r["a"], r["b"]): r for r in ad.pairwise(art)}
    assert res[("a", "far")]["verdict"] == "divergent" and res[("a", "far")]["p_value"] < 1e-6
    assert res[("a", "b")]["verdict"] == "equivalent"
    assert [r["b"] for r in ad.against(art, "far")] == ["a", "b"]
    assert ad.finals_by_arm(art, "loss@0")["far"][0] == pytest.approx(2 * (base[0] - 0.1))
    assert ad.mann_whitney([0.5, 0.6], [0.1, 0.2])["verdict"] == "inconclusive"  # 2 vs 2 cannot reach p < alpha
