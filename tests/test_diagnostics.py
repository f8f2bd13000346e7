"""Diagnostics on constructed cases, where the right answer is known by hand."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from paritybench.analysis import diagnostics
from paritybench.experiment import heads
from paritybench.workloads.seed_bce import jax_model as losses

LOSSES = (losses.naive, losses.seed_stable, losses.keras_clip, losses.keras_torch_clip, losses.logits)


def dloss_dz(loss, z, y):
    return float(jax.grad(lambda zz: jnp.sum(loss(zz, jnp.float32(y))))(jnp.float32(z)))


def test_a_logit_of_30_saturates_float32_sigmoid_and_16_does_not():
    assert float(jax.nn.sigmoid(jnp.float32(30.0))) == 1.0
    assert float(jax.nn.sigmoid(jnp.float32(17.0))) == 1.0
    assert float(jax.nn.sigmoid(jnp.float32(16.0))) < 1.0
    assert 16.0 < heads.SATURATION_LOGIT < 17.0


@pytest.mark.parametrize("z,y", [(30.0, 0.0), (-30.0, 1.0)])
def test_clip_losses_give_exactly_zero_gradient_to_a_saturated_wrong_sample(z, y):
    assert dloss_dz(losses.keras_clip, z, y) == 0.0
    assert dloss_dz(losses.seed_stable, z, y) == 0.0
    # the logits loss still pushes: d/dz = sigmoid(z) - y = +-1
    assert dloss_dz(losses.logits, z, y) == pytest.approx(1.0 if y == 0 else -1.0)


def test_naive_loss_breaks_only_on_the_side_where_p_rounds_to_one():
    # sigmoid(30) is exactly 1.0: log(1 - p) = log(0), gradient NaN
    assert not math.isfinite(dloss_dz(losses.naive, 30.0, 0.0))
    # sigmoid(-30) = 9.4e-14 is still a float32: log(p) is finite and the gradient live
    assert dloss_dz(losses.naive, -30.0, 1.0) == pytest.approx(-1.0)


def test_every_loss_has_a_live_gradient_away_from_saturation():
    for loss in LOSSES:
        g = dloss_dz(loss, 2.0, 0.0)
        assert g == pytest.approx(float(jax.nn.sigmoid(2.0)), rel=1e-5)


def test_logits_loss_is_zero_only_where_it_is_already_right():
    # saturated and correct: -(1 - sigmoid(z)) = -sigmoid(-z), tiny but alive at 30 ...
    g = dloss_dz(losses.logits, 30.0, 1.0)
    assert g != 0.0 and abs(g) < 1e-12
    # ... and only underflows to exactly 0 far out, where the sample is right anyway
    assert dloss_dz(losses.logits, 120.0, 1.0) == 0.0
    assert dloss_dz(losses.logits, 120.0, 0.0) == pytest.approx(1.0)


def _w(v):
    return {
        "dense_0/kernel": np.full((784, 1000), v[0]),
        "dense_0/bias": np.full(1000, v[1]),
        "dense_1/kernel": np.full((1000, 1), v[2]),
        "dense_1/bias": np.full(1, v[3]),
    }


def test_gradient_agreement_on_known_vectors():
    a = _w([1.0, 0.0, 0.0, 0.0])
    assert diagnostics.gradient_agreement(a, a) == (pytest.approx(1.0), pytest.approx(0.0))
    b = _w([0.0, 1.0, 0.0, 0.0])
    cos, rel = diagnostics.gradient_agreement(b, a)
    assert cos == pytest.approx(0.0) and rel > 1.0
    cos, rel = diagnostics.gradient_agreement(_w([float("nan"), 0, 0, 0]), a)
    assert math.isnan(cos) and math.isnan(rel)


def test_gradients_recovered_from_an_sgd_trajectory():
    w0, g = _w([0.5, 0.25, -0.5, 1.0]), _w([2.0, -4.0, 8.0, 0.5])
    w1 = {k: w0[k] - 0.01 * g[k] for k in w0}
    got = diagnostics.grads_from_trajectory([w0, w1], 0.01)[0]
    for k in g:
        np.testing.assert_allclose(got[k], g[k], rtol=1e-12)
    assert diagnostics.weight_distance(w0, w0) == (0.0, 0.0)


def test_grad_memo_reuses_a_gradient_only_for_bit_identical_weights_of_the_same_case():
    calls = []

    def grad(w):
        calls.append(w)
        return {k: np.asarray(v, np.float64) * 2.0 for k, v in w.items()}

    memo = diagnostics.GradMemo()
    a = {"k": np.array([1.0, 2.0], np.float32)}
    f = memo.fn("s0-w0", grad)
    g = f(a)
    assert f({"k": np.array([1.0, 2.0], np.float32)}) is g  # a copy with the same bits: one computation
    assert len(calls) == 1
    f({"k": np.array([1.0, np.nextafter(np.float32(2.0), np.float32(3.0))], np.float32)})  # one ulp apart
    f({"k": np.array([1.0, 2.0], np.float64)})  # the same values in another dtype
    f({"k": np.array([0.0, 1.0], np.float32) + np.float32(1.0)})  # computed to the same bits: reused
    memo.fn("s1-w0", grad)(a)  # another case: other data
    assert len(calls) == 4 and (memo.hits, memo.misses) == (2, 4)


def test_grad_memo_serves_put_values_and_keeps_at_most_its_byte_budget():
    memo = diagnostics.GradMemo(max_bytes=3 * 16)  # three gradients of two float64s
    ws = [{"k": np.array([float(i), 0.0])} for i in range(5)]
    for w in ws:
        memo.put("c", w, {"k": w["k"] + 1.0})
    f = memo.fn("c", lambda w: {"k": np.zeros(2)})
    assert f(ws[4])["k"].tolist() == [5.0, 1.0]  # put, not recomputed
    assert f(ws[0])["k"].tolist() == [0.0, 0.0]  # the oldest two were dropped
    assert memo.misses == 1 and memo._bytes <= 3 * 16


def test_flat_is_the_float64_concatenation_bit_for_bit():
    rng = np.random.default_rng(0)
    w = {
        "b": rng.normal(size=(3, 4)).astype(np.float32),
        "a": np.array([np.nan, -0.0, np.inf, 1e-45], np.float32),
        "c": np.float64(2.5),
    }
    expected = np.concatenate([np.asarray(w[k], np.float64).ravel() for k in ("c", "a", "b")])
    got = diagnostics._flat(w, ("c", "a", "b"))
    assert got.dtype == np.float64 and got.tobytes() == expected.tobytes()
