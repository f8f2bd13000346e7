"""batchnorm-variance: torch's unbiased running variance against Keras's biased moving variance, exactly on a
constructed batch (JAX and torch), on the preset (JAX arms: the same training, another evaluation) and in the
committed baseline (each Keras backend and torch arm on its rule)."""

from __future__ import annotations

import json

import numpy as np

from paritybench import workloads
from paritybench.workloads.batchnorm_variance import jax_model as jm
from paritybench.workloads.batchnorm_variance.workload import BATCH, KERAS_MOMENTUM

from .conftest import ROOT

BASELINE = ROOT / "results" / "baselines" / "batchnorm-variance-cpu.json"
H = np.random.default_rng(1).normal(2.0, 3.0, size=(BATCH, 4))  # one batch of 8 samples, 4 features
OLD_M, OLD_V = np.full(4, 0.5), np.full(4, 1.5)


def _jax_update(unbiased: bool):
    """One training-mode BN call in float64: (output, new moving mean, new moving variance)."""
    import jax
    import jax.numpy as jnp

    with jax.enable_x64(True):
        out = jm.batchnorm(
            jnp.asarray(H), jnp.ones(4), jnp.zeros(4), jnp.asarray(OLD_M), jnp.asarray(OLD_V),
            training=True, unbiased_running_var=unbiased,
        )  # fmt: skip
        return tuple(np.asarray(a) for a in out)


def test_the_unbiased_running_variance_takes_n_over_n_minus_1_of_the_batch_variance():
    out_b, m_b, v_b = _jax_update(False)
    out_u, m_u, v_u = _jax_update(True)
    var_b = H.var(0)  # ddof=0: the variance that normalises the batch
    np.testing.assert_allclose(v_b, KERAS_MOMENTUM * OLD_V + (1 - KERAS_MOMENTUM) * var_b, rtol=1e-12)
    np.testing.assert_allclose(v_u, KERAS_MOMENTUM * OLD_V + (1 - KERAS_MOMENTUM) * H.var(0, ddof=1), rtol=1e-12)
    # the batch's share of the update, x 8/7 exactly
    np.testing.assert_allclose(v_u - KERAS_MOMENTUM * OLD_V, (v_b - KERAS_MOMENTUM * OLD_V) * 8 / 7, rtol=1e-12)
    assert np.all(v_u - v_b > 0.005)  # measurably apart at this batch
    # training is untouched: the same output (biased variance, epsilon 1e-3) and the same moving mean
    assert np.array_equal(out_b, out_u) and np.array_equal(m_b, m_u)
    np.testing.assert_allclose(out_b, (H - H.mean(0)) / np.sqrt(var_b + 1e-3), rtol=1e-12)


def test_torch_batch_norm_keeps_the_unbiased_variance_and_the_fix_the_biased(torch):
    """The torch forward passes in float64 against the JAX rules: ``F.batch_norm(momentum=0.01, eps=1e-3)``
    (the port) is ``apply_unbiased``, the hand-updated averages (the fix) are ``apply``; both in training mode
    and in evaluation mode from the updated statistics."""
    import jax

    from paritybench.workloads.batchnorm_variance import torch_model as tm

    w = workloads.load("batchnorm-variance")
    rng = np.random.default_rng(3)
    params = {k: rng.normal(0.0, 0.1, size=s) for k, s in w.model.params.items()}
    x = rng.uniform(0.0, 1.0, size=(BATCH, 784))
    state = {"bn/moving_mean": np.full(32, 0.2), "bn/moving_variance": np.full(32, 0.7)}
    tp = {k: torch.tensor(v) for k, v in params.items()}
    ts = {k: torch.tensor(v) for k, v in state.items()}
    for t_apply, j_apply in ((tm.apply, jm.apply_unbiased), (tm.apply_biased, jm.apply)):
        with jax.enable_x64(True):
            zj, sj = j_apply(params, x, state, True)
            zje, _ = j_apply(params, x[:3], sj, False)
        zt, st = t_apply(tp, torch.tensor(x), ts, True)
        zte, _ = t_apply(tp, torch.tensor(x[:3]), st, False)
        np.testing.assert_allclose(zt.detach().numpy(), np.asarray(zj), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(zte.detach().numpy(), np.asarray(zje), rtol=1e-10, atol=1e-12)
        for k in state:
            np.testing.assert_allclose(st[k].numpy(), np.asarray(sj[k]), rtol=1e-12)
        assert all(np.array_equal(ts[k].numpy(), state[k]) for k in state)  # the caller's state is kept


def test_preset_trains_alike_and_evaluates_with_a_larger_moving_variance():
    """The preset's JAX arms and the float64 arbiter in-process (no Keras): training bit-identical between the
    port and the fix, so every update saw the same batch variance and the port's moving variance minus the
    initial share, 0.99^k, is 8/7 of the fix's; the evaluation loss moves, the fix's is the arbiter's."""
    from paritybench.experiment.config import RunConfig
    from paritybench.pipeline import runner

    w = workloads.load("batchnorm-variance")
    cfg = RunConfig(
        workload=w.name,
        arms=("jax-unbiased-var", "jax-keras-bn", "reference-f64"),
        n=w.data.n,
        steps=w.training.steps,
        lr=w.training.lr,
        normalize=w.data.normalize,
        diagnostics="light",
        swap=False,
    )
    runs = {r["arm"]: r for r in runner.run(cfg).runs}
    port, fix, ref = runs["jax-unbiased-var"], runs["jax-keras-bn"], runs["reference-f64"]
    assert all(r["status"] == "ok" for r in runs.values())
    assert port["final_weights_sha256"] == fix["final_weights_sha256"]
    assert port["curves"]["accuracy"] == fix["curves"]["accuracy"] and fix["final_accuracy"] > 0.85
    k = cfg.steps
    v_port, v_fix = (np.array(r["state"]["bn/moving_variance"][k]) for r in (port, fix))
    keep = KERAS_MOMENTUM**k
    np.testing.assert_allclose(v_port - keep, (v_fix - keep) * 8 / 7, rtol=1e-4)
    assert np.all(v_port > v_fix)
    e_port, e_fix, e_ref = (r["curves"]["eval_loss"][-1] for r in (port, fix, ref))
    assert abs(e_fix - e_ref) < 1e-5 and e_port - e_fix > 1e-3


def test_committed_baseline_each_arm_keeps_its_rule():
    """Every Keras backend's moving variance is the fix's (biased) at steps 1 and 64, the native torch port's is
    the unbiased JAX twin's, torch's fix the fix's; the mechanism check reproduced every pair."""
    a = json.loads(BASELINE.read_text())
    runs = {r["arm"]: r for r in a["runs"] if r["status"] == "ok"}
    var = "bn/moving_variance"
    pairs = {"keras-tensorflow": "jax-keras-bn", "keras-jax": "jax-keras-bn", "keras-torch": "jax-keras-bn"}
    pairs |= {"torch-bn": "jax-unbiased-var", "torch-bn-biased": "jax-keras-bn"}
    for arm, twin in pairs.items():
        last = len(runs[twin]["state"][var]) - 1
        for step in (1, last):
            np.testing.assert_allclose(runs[arm]["state"][var][step], runs[twin]["state"][var][step], atol=1e-5)
    port, fix = runs["jax-unbiased-var"]["state"][var][-1], runs["jax-keras-bn"]["state"][var][-1]
    assert min(np.array(port) - np.array(fix)) > 1e-3
    assert {m["keras_arm"] for m in a["mechanism"] if m["reproduced"]} == set(pairs)


def test_localize_parts_the_port_in_the_moving_variance_update():
    """In-process localize over 2 steps: the port parts from the float64 reference at step 0, in the update phase,
    in bn/moving_variance (training itself is the same); the fix never parts."""
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import localize
    from paritybench.workloads.base import resolve_ref

    w = workloads.load("batchnorm-variance")
    ds = data.load_mnist()
    x, y = data.window(ds, 0, w.data.n, w.data.normalize, labels=w.data.labels)
    xh, yh = data.window(ds, w.data.n, w.data.holdout, w.data.normalize, labels=w.data.labels)
    init = copy_weights(resolve_ref(w.model.init)(0, False), w.model.params)
    ctx = localize.Context(
        w, w.training.lr, 2, x, y, init, NumericsOptions(), n=w.data.n, normalize=w.data.normalize, xh=xh, yh=yh
    )
    cache: dict = {}
    ref = w.arm(w.reference)
    port = localize.localize_pair(ctx, w.arm("jax-unbiased-var"), ref, cache)
    fix = localize.localize_pair(ctx, w.arm("jax-keras-bn"), ref, cache)
    f = port.first
    assert (f.step, f.phase, f.tensor) == (0, "update", "bn/moving_variance"), port.line()
    assert fix.first is None and fix.max_ratio < localize.FACTOR, fix.line()
