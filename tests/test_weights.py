import numpy as np
import pytest

from paritybench.experiment import data, heads, weights
from paritybench.workloads.seed_bce import f64, jax_model
from paritybench.workloads.seed_bce.workload import PARAMS


def init(seed, threefry=False):
    return weights.copy_weights(jax_model.init(seed, threefry), PARAMS)


def test_seed_initial_weights_give_the_reports_initial_accuracy():
    w = init(0, False)
    x, y = data.window(data.load_mnist(), 0, 1000)
    z = f64.forward(w, x)
    assert heads.count_correct(np, "sigmoid", z, y) == 435
    # 82% of samples start with |logit| beyond float32's sigmoid saturation (~17)
    assert 0.80 < float(np.mean(np.abs(z) > 17)) < 0.85


def test_threefry_setting_changes_the_draw_and_is_restored():
    import jax

    before = jax.config.jax_threefry_partitionable
    a = init(0, False)
    b = init(0, True)
    assert weights.weights_sha256(a) != weights.weights_sha256(b)
    assert jax.config.jax_threefry_partitionable == before


def test_weights_are_checked_by_name_and_shape():
    w = init(1)
    bad = dict(w)
    bad["dense_0/kernel"] = bad["dense_0/kernel"][:, :10]
    with pytest.raises(ValueError, match="dense_0/kernel has shape"):
        weights.check_weights(bad, PARAMS)
    with pytest.raises(ValueError, match="expected parameters"):
        weights.check_weights({k: v for k, v in w.items() if k != "dense_1/bias"}, PARAMS)


def test_sha256_changes_with_a_single_ulp():
    w = init(2)
    w2 = weights.copy_weights(w, PARAMS)
    w2["dense_1/bias"] = np.nextafter(w2["dense_1/bias"], np.float32(1))
    assert weights.weights_sha256(w) != weights.weights_sha256(w2)
    assert weights.weights_sha256(w) == weights.weights_sha256(weights.copy_weights(w, PARAMS))


def test_weights_npz_round_trip(tmp_path):
    w = init(3)
    p = tmp_path / "w.npz"
    weights.save_weights_npz(p, {"jax-logits/s3/w0": w})
    back = weights.load_weights_npz(p, PARAMS)["jax-logits/s3/w0"]
    assert weights.weights_sha256(back) == weights.weights_sha256(w)
