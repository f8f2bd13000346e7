"""batchnorm-momentum: the momentum and variance conventions exactly on a constructed batch, the evaluation-mode
gap on the preset, the committed baseline's Keras moving statistics, and the minibatch/state declarations."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from paritybench import workloads
from paritybench.errors import ParityError
from paritybench.workloads.base import Model, check

from .conftest import ROOT

BASELINE = ROOT / "results" / "baselines" / "batchnorm-momentum-cpu.json"


def _one_update(variant: str):
    """One training-mode BN call on an 8x4 batch drawn from N(2, 3^2), from moving mean 0.5 and variance 1.5."""
    import jax.numpy as jnp

    from paritybench.workloads.batchnorm_momentum import jax_model as m

    h = np.random.default_rng(1).normal(2.0, 3.0, size=(8, 4)).astype(np.float32)
    old_m, old_v = np.full(4, 0.5, np.float32), np.full(4, 1.5, np.float32)
    kw = {
        "keras": dict(keep=0.99, eps=1e-3),
        "literal": dict(keep=0.1, eps=1e-3),
        "torch": dict(keep=0.9, eps=1e-5, unbiased_running_var=True),
    }[variant]
    out, new_m, new_v = m.batchnorm(
        jnp.asarray(h), jnp.ones(4), jnp.zeros(4), jnp.asarray(old_m), jnp.asarray(old_v), training=True, **kw
    )
    h64 = h.astype(np.float64)
    return (
        h64,
        old_m.astype(np.float64),
        old_v.astype(np.float64),
        np.asarray(out),
        np.asarray(new_m),
        np.asarray(new_v),
    )


def test_keras_keeps_99_percent_of_the_old_average_with_the_biased_variance():
    h, old_m, old_v, out, new_m, new_v = _one_update("keras")
    mu, var_b = h.mean(0), h.var(0)  # np.var: biased (ddof=0)
    np.testing.assert_allclose(new_m, 0.99 * old_m + 0.01 * mu, rtol=1e-6)
    np.testing.assert_allclose(new_v, 0.99 * old_v + 0.01 * var_b, rtol=1e-6)
    np.testing.assert_allclose(out, (h - mu) / np.sqrt(var_b + 1e-3), atol=2e-6)


def test_the_literal_port_keeps_10_percent_of_the_old_average():
    h, old_m, old_v, out, new_m, new_v = _one_update("literal")
    mu, var_b = h.mean(0), h.var(0)
    np.testing.assert_allclose(new_m, 0.1 * old_m + 0.9 * mu, rtol=1e-6)
    np.testing.assert_allclose(new_v, 0.1 * old_v + 0.9 * var_b, rtol=1e-6)
    # the training output is Keras's to the last bit: same epsilon, and the averages do not enter it
    assert np.array_equal(out, _one_update("keras")[3])


def test_torch_takes_10_percent_of_the_new_batch_with_the_unbiased_variance():
    h, old_m, old_v, out, new_m, new_v = _one_update("torch")
    mu, var_b, var_u = h.mean(0), h.var(0), h.var(0, ddof=1)
    np.testing.assert_allclose(new_m, 0.9 * old_m + 0.1 * mu, rtol=1e-6)
    np.testing.assert_allclose(new_v, 0.9 * old_v + 0.1 * var_u, rtol=1e-6)
    assert np.all(np.abs(new_v - (0.9 * old_v + 0.1 * var_b)) > 0.05)  # biased would be measurably off
    np.testing.assert_allclose(out, (h - mu) / np.sqrt(var_b + 1e-5), atol=2e-6)  # output: biased, eps 1e-5


def test_preset_trains_alike_but_evaluates_differently_with_the_literal_port():
    """The preset's JAX arms and the float64 arbiter in-process (no Keras): training bit-identical between the
    literal port and the fix, evaluation-mode accuracy on the held-out 1000 apart, the fix on the arbiter."""
    from paritybench.experiment.config import RunConfig
    from paritybench.pipeline import runner

    w = workloads.load("batchnorm-momentum")
    cfg = RunConfig(
        workload=w.name,
        arms=("jax-momentum-literal", "jax-keras-bn", "reference-f64"),
        n=w.data.n,
        steps=w.training.steps,
        lr=w.training.lr,
        normalize=w.data.normalize,
        diagnostics="light",
        swap=False,
    )
    runs = {r["arm"]: r for r in runner.run(cfg).runs}
    port, fix, ref = runs["jax-momentum-literal"], runs["jax-keras-bn"], runs["reference-f64"]
    assert all(r["status"] == "ok" for r in runs.values())
    assert port["final_weights_sha256"] == fix["final_weights_sha256"]
    assert port["curves"]["accuracy"] == fix["curves"]["accuracy"] and fix["final_accuracy"] > 0.85
    assert fix["final_eval_accuracy"] == ref["final_eval_accuracy"]
    assert port["final_eval_accuracy"] - fix["final_eval_accuracy"] > 0.03
    assert len(fix["curves"]["eval_accuracy"]) == cfg.steps + 1
    # the moving mean after step 1: the port took 0.9 of the first batch's mean, the fix 0.01 of it
    m_port, m_fix = (np.array(r["state"]["bn/moving_mean"][1]) for r in (port, fix))
    np.testing.assert_allclose(m_port, 90 * m_fix, rtol=1e-4, atol=1e-7)
    assert fix["state"]["bn/moving_variance"][0] == [1.0] * 64


def test_committed_baseline_keras_backends_keep_99_percent_and_match_their_emulations():
    a = json.loads(BASELINE.read_text())
    runs = {r["arm"]: r for r in a["runs"] if r["status"] == "ok"}
    fix = runs["jax-keras-bn"]
    for k in ("keras-tensorflow", "keras-jax", "keras-torch"):
        if k not in runs:
            continue
        for name in ("bn/moving_mean", "bn/moving_variance"):
            for step in (1, len(fix["state"][name]) - 1):
                np.testing.assert_allclose(runs[k]["state"][name][step], fix["state"][name][step], atol=1e-5)
        assert runs[k]["final_eval_accuracy"] == pytest.approx(fix["final_eval_accuracy"], abs=0.003)
    assert {m["keras_arm"] for m in a["mechanism"] if m["reproduced"]} >= {"keras-tensorflow", "keras-jax"}


@pytest.mark.parametrize(
    "change,message",
    [
        (dict(batch_size=100), "dividing data.n"),
        (dict(batch_size=0), "positive int"),
        (dict(holdout=-1), "holdout"),
    ],
)
def test_bad_minibatch_declarations_are_refused_with_one_line(change, message):
    w = workloads.load("batchnorm-momentum")
    with pytest.raises(ParityError, match=message):
        check(replace(w, data=replace(w.data, **change)), "test")


def test_state_may_not_shadow_a_parameter():
    w = workloads.load("batchnorm-momentum")
    bad: Model = replace(w.model, state={**w.model.state, "bn/gamma": (64,)})
    with pytest.raises(ParityError, match="also a parameter"):
        check(replace(w, model=bad), "test")
