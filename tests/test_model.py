import numpy as np
import pytest

from paritybench import data, model


def test_seed_initial_weights_give_the_reports_initial_accuracy():
    w = model.init_weights(0, threefry_partitionable=False)
    x, y = data.window(data.load_mnist(), 0, 1000)
    z = model.forward_logits(w, x, np.float32)
    assert model.count_correct(z, y, 0.0) == 435
    # 82% of samples start with |logit| beyond float32's sigmoid saturation (~17)
    assert 0.80 < float(np.mean(np.abs(z) > 17)) < 0.85


def test_threefry_setting_changes_the_draw_and_is_restored():
    import jax

    before = jax.config.jax_threefry_partitionable
    a = model.init_weights(0, False)
    b = model.init_weights(0, True)
    assert model.weights_sha256(a) != model.weights_sha256(b)
    assert jax.config.jax_threefry_partitionable == before


def test_weights_are_checked_by_name_and_shape():
    w = model.init_weights(1)
    bad = dict(w)
    bad["dense_0/kernel"] = bad["dense_0/kernel"][:, :10]
    with pytest.raises(ValueError, match="dense_0/kernel has shape"):
        model.check_weights(bad)
    with pytest.raises(ValueError, match="expected parameters"):
        model.check_weights({k: v for k, v in w.items() if k != "dense_1/bias"})


def test_sha256_changes_with_a_single_ulp():
    w = model.init_weights(2)
    w2 = model.copy_weights(w)
    w2["dense_1/bias"] = np.nextafter(w2["dense_1/bias"], np.float32(1))
    assert model.weights_sha256(w) != model.weights_sha256(w2)
    assert model.weights_sha256(w) == model.weights_sha256(model.copy_weights(w))


def test_weights_npz_round_trip(tmp_path):
    w = model.init_weights(3)
    p = tmp_path / "w.npz"
    model.save_weights_npz(p, {"jax-logits/s3/w0": w})
    back = model.load_weights_npz(p)["jax-logits/s3/w0"]
    assert model.weights_sha256(back) == model.weights_sha256(w)
