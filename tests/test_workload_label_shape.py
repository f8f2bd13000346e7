"""label-shape: a BCE of (n, 1) logits against (n,) labels is the mean over every (i, j) pair; Keras's
loss wrapper aligns the ranks first, so its arms train on the right objective."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from paritybench.experiment import data
from paritybench.workloads import registry
from paritybench.workloads.label_shape import jax_model as m

from .conftest import ROOT

# A constructed case: three logits (n, 1), three labels (n, 1) as the workload's data holds them.
Z = jnp.array([[-1.0], [0.5], [2.0]], jnp.float32)
Y = jnp.array([[0.0], [1.0], [1.0]], jnp.float32)


def _bce(z: float, y: float) -> float:
    """BCE from a logit, in float64 by hand: softplus(z) - y z."""
    return float(np.logaddexp(0.0, z) - y * z)


def test_the_broadcast_loss_is_the_mean_over_every_pair_of_logit_and_label():
    per = m.broadcast(Z, Y)
    assert per.shape == (3, 3)  # (n, 1) against (n,): an (n, n) matrix, no error
    pairs = [_bce(float(Z[i, 0]), float(Y[j, 0])) for i in range(3) for j in range(3)]
    assert float(jnp.mean(per)) == pytest.approx(np.mean(pairs), rel=1e-6)
    assert float(jnp.mean(per)) == pytest.approx(float(m.pairwise_mean_closed_form(Z, Y)), rel=1e-6)
    # the right objective pairs sample i with label i only, and differs
    right = np.mean([_bce(float(Z[i, 0]), float(Y[i, 0])) for i in range(3)])
    assert m.reshaped(Z, Y).shape == (3,)
    assert float(jnp.mean(m.reshaped(Z, Y))) == pytest.approx(right, rel=1e-6)
    assert abs(float(jnp.mean(per)) - right) > 0.4  # mean(z) mean(y) = 1/3 vs mean(z y) = 5/6


def test_the_broadcast_gradient_pulls_every_logit_to_the_base_rate():
    """d mean / d z_i = (sigmoid(z_i) - mean(y)) / n for the broadcast loss, (sigmoid(z_i) - y_i) / n for the fix."""
    g_bad = jax.grad(lambda z: jnp.mean(m.broadcast(z, Y)))(Z)
    g_fix = jax.grad(lambda z: jnp.mean(m.reshaped(z, Y)))(Z)
    s = jax.nn.sigmoid(Z)
    np.testing.assert_allclose(g_bad, (s - jnp.mean(Y)) / 3, rtol=1e-6)
    np.testing.assert_allclose(g_fix, (s - Y) / 3, rtol=1e-6)
    # sample 0 (label 0) is pushed *up* by the broadcast loss: sigmoid(-1) = 0.27 < mean(y) = 2/3
    assert float(g_bad[0, 0]) < 0 < float(g_fix[0, 0])


def test_keras_alignment_emulation_equals_the_fix_at_unsaturated_logits():
    """Keras expands (n,) labels to (n, 1) before its loss: with the clip inactive, the same objective as the fix."""
    np.testing.assert_allclose(m.keras_clip(Z, Y)[:, 0], m.reshaped(Z, Y), rtol=1e-6)


def test_loss_and_gradient_differ_from_step_0_on_the_workload():
    w = registry.load("label-shape")
    x, y = data.window(data.load_mnist(), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    assert y.shape == (w.data.n, 1)
    params = {k: jnp.asarray(v) for k, v in m.init(0).items()}

    def value_and_grad(loss_fn):
        return jax.value_and_grad(lambda p: jnp.mean(loss_fn(m.apply(p, x), y)))(params)

    (l_bad, g_bad), (l_fix, g_fix) = value_and_grad(m.broadcast), value_and_grad(m.reshaped)
    # measured: 0.7113 against 0.7022 at the seed-0 weights
    assert float(l_bad) == pytest.approx(float(m.pairwise_mean_closed_form(m.apply(params, x), y)), rel=1e-5)
    assert abs(float(l_bad) - float(l_fix)) > 5e-3
    k = "dense_1/kernel"
    cos = float(jnp.sum(g_bad[k] * g_fix[k]) / (jnp.linalg.norm(g_bad[k]) * jnp.linalg.norm(g_fix[k])))
    assert cos < 0.9  # not a rescaled gradient: another direction


_KERAS_PROBE = r"""
import json, numpy as np, keras
from keras.src.losses.loss import squeeze_or_expand_to_same_rank
rng = np.random.default_rng(0)
x = rng.normal(size=(64, 5)).astype("float32")
y = (rng.random(64) > 0.5).astype("float32")
out = {}
a, b = squeeze_or_expand_to_same_rank(keras.ops.convert_to_tensor(y), keras.ops.zeros((64, 1)))
out["aligned_shape"] = list(a.shape)
def fit(labels):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((5,)), keras.layers.Dense(1, activation="sigmoid")])
    model.set_weights([np.full((5, 1), 0.1, "float32"), np.zeros(1, "float32")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss=keras.losses.binary_crossentropy)
    loss = model.fit(x, labels, batch_size=64, epochs=1, shuffle=False, verbose=0).history["loss"][0]
    return loss, model.get_weights()[0]
l1, w1 = fit(y)
l2, w2 = fit(y.reshape(-1, 1))
out["fit_loss_flat"], out["fit_loss_col"] = float(l1), float(l2)
out["fit_max_abs_dw"] = float(np.max(np.abs(w1 - w2)))
p = keras.ops.sigmoid(keras.ops.convert_to_tensor(x[:, :1]))
try:
    keras.losses.binary_crossentropy(y, p)
    out["direct"] = "no error"
except ValueError as exc:
    out["direct"] = str(exc)
print("PROBE " + json.dumps(out))
"""


@pytest.mark.slow
def test_keras_fit_aligns_flat_labels_and_the_bare_loss_function_refuses_them():
    """Measured on Keras-JAX: fit with y of shape (n,) and (n, 1) gives bit-identical weights
    (LossFunctionWrapper -> squeeze_or_expand_to_same_rank expands (n,) to (n, 1)); the bare
    ``keras.losses.binary_crossentropy`` called in a custom loop raises instead of broadcasting
    (every backend's ``nn.binary_crossentropy`` checks target.shape == output.shape)."""
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2"}
    proc = subprocess.run(
        [sys.executable, "-c", _KERAS_PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(next(ln for ln in proc.stdout.splitlines() if ln.startswith("PROBE "))[6:])
    assert out["aligned_shape"] == [64, 1]
    assert out["fit_max_abs_dw"] == 0.0 and out["fit_loss_flat"] == out["fit_loss_col"]
    assert "must have the same shape" in out["direct"] and "(64,)" in out["direct"]


@pytest.mark.slow
def test_label_shape_end_to_end_one_step(tmp_path, api_run):
    out = tmp_path / "ls.json"
    api_run(
        "label-shape",
        steps=1,
        weights=False,
        out=out,
        arms="jax-broadcast,jax-reshape,jax-keras-clip,keras-tensorflow,keras-jax,reference-f64",
    )  # raises where an arm errors (the CLI's exit 1)
    a = json.loads(out.read_text())
    mech = {x["keras_arm"]: x for x in a["mechanism"]}
    assert mech["keras-tensorflow"]["emulation"] == "jax-reshape" and mech["keras-tensorflow"]["reproduced"]
    assert mech["keras-jax"]["emulation"] == "jax-keras-clip" and mech["keras-jax"]["reproduced"]
    runs = {r["arm"]: r for r in a["runs"]}
    ref = runs["reference-f64"]["curves"]["loss"][0]
    for arm in ("jax-reshape", "keras-tensorflow", "keras-jax"):
        assert runs[arm]["curves"]["loss"][0] == pytest.approx(ref, rel=1e-5), arm
    assert abs(runs["jax-broadcast"]["curves"]["loss"][0] - ref) > 5e-3
