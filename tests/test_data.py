import numpy as np
import pytest

from paritybench.errors import ParityError
from paritybench.experiment import data


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


@pytest.fixture()
def good_arrays():
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (20, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, 20, dtype=np.uint8),
    }


def test_bundled_slice_is_the_real_mnist_prefix():
    ds = data.load_mnist()
    assert ds.sha256 == data.BUNDLED_SHA256
    assert ds.x_train.shape == (10000, 28, 28) and ds.x_train.dtype == np.uint8
    assert list(ds.y_train[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(np.bincount(ds.y_train[:1000], minlength=10)) == [97, 116, 99, 93, 105, 92, 94, 117, 87, 100]
    row = ds.x_train[0, 5]
    assert list(row[row > 0][:12]) == [3, 18, 18, 18, 126, 136, 175, 26, 166, 255, 247, 127]
    with np.load(data.bundled_path(), allow_pickle=False) as z:
        assert abs(float(z["x_test"].mean()) - 33.79) < 0.01


def test_window_is_raw_pixels_and_digit_ge_5_labels():
    ds = data.load_mnist()
    x, y = data.window(ds, 0, 1000)
    assert x.dtype == np.float32 and x.shape == (1000, 784) and x.max() == 255.0
    assert y.dtype == np.float32 and y.shape == (1000, 1)
    assert float(y.sum()) == 490.0  # digits 5-9 among the first 1000: 92+94+117+87+100
    xn, _ = data.window(ds, 0, 1000, normalize=True)
    assert xn.max() == 1.0


def test_missing_file_is_rejected(tmp_path):
    with pytest.raises(ParityError, match="does not exist"):
        data.load_mnist(tmp_path / "nope.npz")


def test_wrong_sha256_is_rejected(tmp_path, good_arrays):
    p = _write_npz(tmp_path / "m.npz", **good_arrays)
    with pytest.raises(ParityError, match="has sha256 .* expected"):
        data.load_mnist(p, expected_sha256="0" * 64)


def test_truncated_file_is_rejected(tmp_path, good_arrays):
    p = _write_npz(tmp_path / "m.npz", **good_arrays)
    raw = p.read_bytes()
    p.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ParityError, match="truncated or not an npz"):
        data.load_mnist(p)


def test_pickled_object_is_rejected(tmp_path):
    p = tmp_path / "m.npz"
    np.savez(p, x_train=np.array([{"evil": 1}], dtype=object), y_train=np.zeros(1, np.uint8))
    with pytest.raises(ParityError, match="pickled Python objects"):
        data.load_mnist(p)


def test_wrong_shapes_are_rejected(tmp_path, good_arrays):
    p = _write_npz(tmp_path / "m.npz", x_train=good_arrays["x_train"].reshape(20, 784), y_train=good_arrays["y_train"])
    with pytest.raises(ParityError, match=r"x_train has shape \(20, 784\)"):
        data.load_mnist(p)
    p2 = _write_npz(tmp_path / "m2.npz", x_train=good_arrays["x_train"], y_train=np.zeros(3, np.uint8))
    with pytest.raises(ParityError, match="y_train has shape"):
        data.load_mnist(p2)


def test_missing_keys_and_wrong_dtype_are_rejected(tmp_path, good_arrays):
    p = _write_npz(tmp_path / "m.npz", x_train=good_arrays["x_train"])
    with pytest.raises(ParityError, match="lacks keys"):
        data.load_mnist(p)
    p2 = _write_npz(
        tmp_path / "m2.npz", x_train=good_arrays["x_train"].astype(np.float32), y_train=good_arrays["y_train"]
    )
    with pytest.raises(ParityError, match="dtype float32"):
        data.load_mnist(p2)


def test_window_past_the_end_is_rejected(tmp_path, good_arrays):
    ds = data.load_mnist(_write_npz(tmp_path / "m.npz", **good_arrays))
    with pytest.raises(ParityError, match="runs past the end"):
        data.window(ds, 15, 10)
    with pytest.raises(ParityError, match="runs past the end.*at most 9000"):
        data.window(data.load_mnist(), 9500, 1000)


def test_fetch_refuses_a_file_with_the_wrong_sha256_and_keeps_nothing(tmp_path, good_arrays):
    src = _write_npz(tmp_path / "src.npz", **good_arrays)
    cache = tmp_path / "cache"
    with pytest.raises(ParityError, match="refused"):
        data.fetch(cache, url=src.as_uri())
    assert not cache.exists()  # not even the folder it made for the download


def test_fetch_keeps_a_verified_file(tmp_path, good_arrays):
    src = _write_npz(tmp_path / "src.npz", **good_arrays)
    got = data.fetch(tmp_path / "cache", url=src.as_uri(), expected_sha256=data.sha256_file(src))
    assert got.name == "mnist.npz" and data.load_mnist(got).x_train.shape == (20, 28, 28)


def test_fetch_reports_an_unreachable_url(tmp_path):
    with pytest.raises(ParityError, match="could not download"):
        data.fetch(tmp_path, url=(tmp_path / "absent.npz").as_uri())
