"""dropout-rng: the dropout conventions exactly on constructed arrays (stax's keep rate by stax itself, the
inverted scaling, evaluation mode, Keras's [seed, counter] key), the preset's JAX arms, the committed sweep's
distribution verdicts, and one short run through api.run and Keras-JAX's worker."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from paritybench import workloads
from paritybench.workloads.dropout_rng import jax_model as jm
from paritybench.workloads.dropout_rng.workload import RATE, SEED

from .conftest import ROOT

BASELINE = ROOT / "results" / "baselines" / "dropout-rng-cpu.json"
KEY = np.array([SEED, 3], np.float32)  # the state at step 3


def test_stax_dropout_rate_is_the_keep_probability():
    """stax.Dropout(0.2) itself keeps 20% and scales by 5: the literal port's dropout, bit for bit."""
    from jax.example_libraries import stax

    x = jnp.ones((200, 50), jnp.float32)
    _, stax_apply = stax.Dropout(RATE, mode="train")
    out = np.asarray(stax_apply((), x, rng=jnp.asarray(KEY).astype(jnp.uint32)))
    np.testing.assert_array_equal(out, np.asarray(jm.dropout(x, KEY, RATE)))
    assert set(np.unique(out)) == {0.0, np.float32(1 / RATE)}
    assert abs(np.mean(out > 0) - RATE) < 0.01  # 10000 draws: the kept share is 0.2 within 0.01 (4.5 sigma)


def test_keras_convention_keeps_one_minus_rate_scaled_by_its_inverse_with_keras_jaxs_key():
    x = jnp.ones((200, 50), jnp.float32)
    out = np.asarray(jm.dropout(x, KEY, 1 - RATE))
    assert set(np.unique(out)) == {0.0, np.float32(1 / (1 - RATE))}
    assert abs(np.mean(out > 0) - (1 - RATE)) < 0.01
    # Keras-JAX's draw (keras/src/backend/jax/random.py, dropout): bernoulli(seed=[S, k], p=keep)
    mask = np.asarray(jax.random.bernoulli(jnp.asarray([SEED, 3], jnp.uint32), p=1 - RATE, shape=x.shape))
    np.testing.assert_array_equal(out > 0, mask)
    # inverted dropout keeps the expectation: the mean of the kept-and-scaled values is 1 within the draw's noise
    assert abs(float(np.mean(out)) - 1.0) < 0.02


def _net():
    w = workloads.load("dropout-rng")
    params = {k: jnp.asarray(v) for k, v in jm.init(0).items()}
    x = jnp.asarray(np.random.default_rng(0).uniform(size=(16, 784)), jnp.float32)
    return w, params, x, {"dropout/seed": jnp.asarray([SEED, 0], jnp.float32)}


def test_evaluation_is_the_plain_network_and_the_at_eval_port_is_not():
    w, params, x, state = _net()
    plain = jax.nn.relu(x @ params["dense_0/kernel"] + params["dense_0/bias"]) @ params["dense_1/kernel"]
    plain = plain + params["dense_1/bias"]
    z, same = jm.apply(params, x, state, training=False)
    np.testing.assert_array_equal(np.asarray(z), np.asarray(plain))
    assert same is state  # evaluation draws nothing
    z_port, _ = jm.apply_dropout_at_eval(params, x, state, training=False)
    assert float(jnp.max(jnp.abs(z_port - plain))) > 0.1


def test_each_training_call_advances_the_counter_and_draws_a_new_mask():
    _, params, x, state = _net()
    z0, s1 = jm.apply(params, x, state, training=True)
    z1, s2 = jm.apply(params, x, s1, training=True)
    assert np.asarray(s1["dropout/seed"]).tolist() == [SEED, 1] and np.asarray(s2["dropout/seed"]).tolist() == [SEED, 2]
    assert float(jnp.max(jnp.abs(z0 - z1))) > 0


def test_torch_dropout_is_torchs_convention_with_keras_torchs_generator():
    import torch

    from paritybench.workloads.dropout_rng import torch_model as tm

    _, params, x, _ = _net()
    p = {k: torch.tensor(np.asarray(v)) for k, v in params.items()}
    eye = {**p, "dense_0/kernel": torch.eye(784, 64), "dense_0/bias": torch.ones(64)}
    xt = torch.zeros(16, 784)  # h = relu(0 + 1) = 1 everywhere: the layer's output is the scaled mask
    h_of = {**eye, "dense_1/kernel": torch.eye(64, 10)}
    state = {"dropout/seed": torch.tensor([SEED, 3.0])}
    z, new = tm.apply(h_of, xt, state, training=True)
    g = torch.Generator().manual_seed(SEED + 3)
    mask = torch.bernoulli(torch.full((16, 64), 1 - RATE), generator=g)
    np.testing.assert_allclose(z.numpy(), (mask / (1 - RATE))[:, :10].numpy() + np.asarray(params["dense_1/bias"]))
    assert new["dropout/seed"].tolist() == [SEED, 4]
    z_eval, same = tm.apply(h_of, xt, state, training=False)
    np.testing.assert_allclose(z_eval.numpy(), np.broadcast_to(1.0 + np.asarray(params["dense_1/bias"]), (16, 10)))
    assert same["dropout/seed"].tolist() == [SEED, 3]


def test_preset_stax_port_trains_worse_at_eval_port_evaluates_worse_fix_on_the_arbiter():
    """The preset's JAX arms and the arbiter in-process (no Keras), seed 0."""
    from paritybench.experiment.config import RunConfig
    from paritybench.pipeline import runner

    w = workloads.load("dropout-rng")
    cfg = RunConfig(
        workload=w.name,
        arms=("jax-stax-keep-rate", "jax-dropout-at-eval", "jax-keras-dropout", "reference-f64"),
        n=w.data.n,
        steps=w.training.steps,
        lr=w.training.lr,
        normalize=w.data.normalize,
        diagnostics="light",
        swap=False,
    )
    runs = {r["arm"]: r for r in runner.run(cfg).runs}
    stax, at_eval, fix, ref = (runs[a] for a in cfg.arms)
    assert all(r["status"] == "ok" for r in runs.values())
    # measured: final training accuracy 0.410 (stax) vs 0.840; evaluation 0.680 (dropout on) vs 0.742
    assert fix["final_accuracy"] - stax["final_accuracy"] > 0.2
    assert at_eval["final_weights_sha256"] == fix["final_weights_sha256"]  # trains identically
    assert fix["final_eval_accuracy"] - at_eval["final_eval_accuracy"] > 0.03
    assert fix["final_eval_accuracy"] == ref["final_eval_accuracy"] and fix["final_accuracy"] == ref["final_accuracy"]
    assert ref["state"]["dropout/seed"][-1] == [SEED, w.training.steps]


def test_committed_sweep_the_port_is_divergent_and_keras_backends_are_not():
    """Mann-Whitney U (two-sided) on final accuracy over the sweep's 20 seeds, each arm against the fix."""
    from paritybench.analysis.arm_distributions import finals_by_arm, mann_whitney

    a = json.loads(BASELINE.read_text())
    finals = finals_by_arm(a)
    assert all(len(v) == 20 for v in finals.values())
    fix = finals["jax-keras-dropout"]
    assert mann_whitney(finals["jax-stax-keep-rate"], fix)["verdict"] == "divergent"
    for arm in ("keras-tensorflow", "keras-torch", "torch-dropout"):
        assert mann_whitney(finals[arm], fix)["verdict"] == "equivalent", arm
    evals = finals_by_arm(a, "final_eval_accuracy")
    assert mann_whitney(evals["jax-dropout-at-eval"], evals["jax-keras-dropout"])["verdict"] == "divergent"
    assert finals["keras-jax"] == fix  # Keras-JAX's masks, replayed: the same accuracy at every seed


@pytest.mark.slow
def test_end_to_end_keras_jax_dropout_is_replayed_bit_for_bit(tmp_path, api_run):
    """Three steps through api.run: Keras-JAX's Dropout and its JAX twin with Keras's [seed, counter] key."""
    out = tmp_path / "dr.json"
    arms = "jax-keras-dropout-clip,keras-jax,reference-f64"
    api_run("dropout-rng", steps=3, weights=False, out=out, arms=arms)  # raises where an arm errors (the CLI's exit 1)
    a = json.loads(out.read_text())
    (m,) = a["mechanism"]
    assert m["keras_arm"] == "keras-jax" and m["reproduced"] and m["max_abs_diff_final"] == 0.0, m
    runs = {r["arm"]: r for r in a["runs"]}
    assert runs["keras-jax"]["state"]["dropout/seed"][-1] == [SEED, 3]
