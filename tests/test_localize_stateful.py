"""issue 12 on a stateful minibatch workload (batchnorm-momentum): ``paritybench localize`` steps the Keras arms
(inspection worker) and the native torch arm on the same batches as ``run``, from the given (teacher-forced)
moving statistics, and checks the new statistics (update phase) and the inference-mode held-out logits
(evaluation phase)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.conftest import run_cli

WL = "batchnorm-momentum"


def _ctx(steps: int):
    from paritybench import workloads
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import localize
    from paritybench.workloads import resolve_ref

    w = workloads.load(WL)
    n = w.data.n
    ds = data.load_mnist()
    x, y = data.window(ds, 0, n, w.data.normalize, labels=w.data.labels)
    xh, yh = data.window(ds, n, w.data.holdout, w.data.normalize, labels=w.data.labels)
    init = copy_weights(resolve_ref(w.model.init)(0, False), w.model.params)
    return localize.Context(
        w, w.training.lr, steps, x, y, init, NumericsOptions(), n=n, normalize=w.data.normalize, xh=xh, yh=yh
    )


def _pair(a: str, b: str, steps: int):
    from paritybench.pipeline import localize

    ctx = _ctx(steps)
    return localize.localize_pair(ctx, ctx.workload.arm(a), ctx.workload.arm(b), {})


def _bn(h, mean, var, gamma, beta, eps=1e-3):
    return (h - mean) / np.sqrt(var + eps) * gamma + beta


def test_keras_worker_steps_the_batch_from_the_given_moving_statistics():
    """Worker level, keras-tensorflow at given weights and given (arbitrary) moving statistics: step k's logits
    are training mode on rows 64k..64k+64; the new statistics are Keras's rule applied once to the GIVEN state
    (0.99 old + 0.01 batch, biased variance); the held-out logits are inference mode with that new state."""
    from paritybench.arms import keras_kind

    ctx = _ctx(2)
    arm = ctx.workload.arm("keras-tensorflow")
    rng = np.random.default_rng(1)
    states = [{"bn/moving_mean": rng.normal(0, 1, 64), "bn/moving_variance": rng.uniform(0.5, 2, 64)} for _ in range(3)]
    a = keras_kind.keras_arrays(ctx, arm, [ctx.init] * 3, states)
    w = {k: np.asarray(v, np.float64) for k, v in ctx.init.items()}
    xh = np.asarray(ctx.xh, np.float64)
    for k in range(2):
        rows = slice(64 * k, 64 * k + 64)
        h = np.asarray(ctx.x[rows], np.float64) @ w["dense_0/kernel"] + w["dense_0/bias"]
        mean, var = h.mean(0), h.var(0)
        s = states[k]
        np.testing.assert_allclose(a[f"k{k}/model_state/bn/moving_mean"], s["bn/moving_mean"], rtol=1e-6)
        z = np.maximum(_bn(h, mean, var, w["bn/gamma"], w["bn/beta"]), 0) @ w["dense_1/kernel"] + w["dense_1/bias"]
        np.testing.assert_allclose(a[f"k{k}/logits"], z, rtol=1e-4, atol=1e-4)
        new_m = 0.99 * s["bn/moving_mean"] + 0.01 * mean
        new_v = 0.99 * s["bn/moving_variance"] + 0.01 * var
        np.testing.assert_allclose(a[f"k{k}/state/bn/moving_mean"], new_m, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(a[f"k{k}/state/bn/moving_variance"], new_v, rtol=1e-5, atol=1e-6)
        hh = xh @ w["dense_0/kernel"] + w["dense_0/bias"]
        zh = np.maximum(_bn(hh, new_m, new_v, w["bn/gamma"], w["bn/beta"]), 0) @ w["dense_1/kernel"] + w["dense_1/bias"]
        np.testing.assert_allclose(a[f"k{k}/eval/holdout logits"], zh, rtol=1e-4, atol=1e-4)


def test_keras_tensorflow_never_parts_from_the_arbiter_on_the_stateful_workload():
    """Through the command: the Keras arm is compared (no longer skipped), its moving statistics and held-out
    logits are among the checks, and it implements the arbiter's convention: it stays under the factor."""
    proc = run_cli(
        "localize", "--workload", WL, "--arms", "keras-tensorflow,reference-f64", "--steps", "3", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(proc.stdout)
    assert rec["skipped"] == [] and len(rec["pairs"]) == 1, rec["skipped"]
    p = rec["pairs"][0]
    assert p["first"] is None and p["max_ratio"] < rec["factor"], p["line"]


def test_literal_port_parts_from_keras_in_the_moving_mean_and_evaluation_only():
    """jax-momentum-literal (keeps 10% of the old average) vs keras-tensorflow: step 0's update of
    bn/moving_mean (and the variance), then the evaluation that reads them; training forward, loss and
    backward never part (the training pass uses the batch's own statistics)."""
    from paritybench.pipeline.localize import FACTOR

    r = _pair("jax-momentum-literal", "keras-tensorflow", 3)
    assert r.first is not None and (r.first.step, r.first.phase, r.first.tensor) == (0, "update", "bn/moving_mean"), (
        r.line()
    )
    assert r.parted_tensors == ["bn/moving_mean", "bn/moving_variance"], r.line()
    assert r.later_phases == ["evaluation: holdout logits"], r.line()
    training = [c for c in r.checks if c.phase in ("forward", "loss", "backward")]
    assert training and max(c.ratio for c in training) < FACTOR
    # the parameters' updates are SGD on equal gradients: they do not part either
    assert max(c.ratio for c in r.checks if c.phase == "update" and not c.tensor.startswith("bn/moving")) < FACTOR


@pytest.mark.parametrize("b,first", [("reference-f64", (0, "forward", "logits")), ("jax-torch-bn", None)])
def test_torch_bn_is_localized(b, first):
    """torch-bn (F.batch_norm, eps 1e-5) leaves the Keras-convention arbiter at step 0's training forward pass
    (epsilon), as jax-torch-bn does; against jax-torch-bn (the same convention in JAX) it never parts."""
    r = _pair("torch-bn", b, 3)
    if first is None:
        assert r.first is None, r.line()
        assert any(c.phase == "evaluation" for c in r.checks) and any(c.tensor == "bn/moving_mean" for c in r.checks)
    else:
        assert r.first is not None and (r.first.step, r.first.phase, r.first.tensor) == first, r.line()
