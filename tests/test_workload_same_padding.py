"""same-padding: TensorFlow's SAME pads a 3x3 stride-2 convolution on 28 pixels (0, 1); the torch-style
port pads (1, 1), which reads every input one pixel up and left. Pinned exactly on constructed inputs."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from paritybench.experiment import data
from paritybench.workloads import registry
from paritybench.workloads.same_padding import jax_model as m


def _conv(images: np.ndarray, kernel: np.ndarray, padding) -> np.ndarray:
    params = {"conv/kernel": jnp.asarray(kernel), "conv/bias": jnp.zeros(kernel.shape[-1], jnp.float32)}
    return np.asarray(m.conv(params, jnp.asarray(images.reshape(images.shape[0], -1)), padding))


def test_lax_same_pads_zero_before_and_one_after():
    assert [tuple(p) for p in lax.padtype_to_pads((28, 28), (3, 3), (2, 2), "SAME")] == [(0, 1), (0, 1)]
    assert m.TORCH_PADDING == ((1, 1), (1, 1))


def test_a_delta_image_lands_one_kernel_tap_apart():
    """A single lit pixel at (5, 5), a kernel whose taps are all different: SAME sees it through tap (1, 1)
    at output (2, 2) only; padding (1, 1) sees it through taps (2, 2), (2, 0), (0, 2), (0, 0) at outputs
    (2, 2), (2, 3), (3, 2), (3, 3) -- output pixel i reads input 2i + k - pad_top."""
    img = np.zeros((1, 28, 28), np.float32)
    img[0, 5, 5] = 1.0
    kernel = (np.arange(9, dtype=np.float32).reshape(3, 3) + 1.0)[:, :, None, None]  # tap (a, b) = 3a + b + 1
    same = _conv(img, kernel, "SAME")[0, :, :, 0]
    port = _conv(img, kernel, m.TORCH_PADDING)[0, :, :, 0]
    assert same.shape == port.shape == (14, 14)
    assert {tuple(map(int, i)): float(same[tuple(i)]) for i in np.argwhere(same)} == {(2, 2): 5.0}
    assert {tuple(map(int, i)): float(port[tuple(i)]) for i in np.argwhere(port)} == {
        (2, 2): 9.0,
        (2, 3): 7.0,
        (3, 2): 3.0,
        (3, 3): 1.0,
    }


def test_the_port_equals_same_on_the_image_shifted_by_one_pixel():
    """For images whose last row and column are blank (MNIST digits with their last row and column
    blanked), padding (1, 1) on x is SAME on x moved one pixel down and right, to rounding: the offset
    is one pixel on each axis, nothing else."""
    x, _ = data.window(data.load_mnist(), 0, 200, normalize=True)
    imgs = x.reshape(-1, 28, 28).copy()
    imgs[:, -1, :] = 0.0
    imgs[:, :, -1] = 0.0
    shifted = np.zeros_like(imgs)
    shifted[:, 1:, 1:] = imgs[:, :-1, :-1]
    kernel = m.init(0)["conv/kernel"]
    port = _conv(imgs, kernel, m.TORCH_PADDING)
    np.testing.assert_allclose(port, _conv(shifted, kernel, "SAME"), rtol=0, atol=1e-6)
    assert np.max(np.abs(port - _conv(imgs, kernel, "SAME"))) > 0.5


def test_with_identical_weights_the_forward_pass_differs_at_step_0():
    w = registry.load("same-padding")
    x, _ = data.window(data.load_mnist(), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    params = {k: jnp.asarray(v) for k, v in m.init(0).items()}
    same, port = m.apply(params, jnp.asarray(x)), m.apply_torch_pad(params, jnp.asarray(x))
    assert same.shape == port.shape == (w.data.n, 1)  # same shapes: nothing complains
    # measured: 0.387 max |logit difference|, against a logit std of 0.11
    assert float(jnp.max(jnp.abs(same - port))) > 0.1


def test_relu_has_zero_gradient_at_zero_and_jnp_maximum_half():
    """Why the model uses jax.nn.relu: background patches give exactly 0 before the ReLU."""
    assert float(jax.grad(jax.nn.relu)(0.0)) == 0.0
    assert float(jax.grad(lambda v: jnp.maximum(v, 0.0))(0.0)) == 0.5


@pytest.mark.slow
def test_same_padding_end_to_end_one_step(tmp_path, api_run):
    out = tmp_path / "sp.json"
    api_run(
        "same-padding",
        steps=1,
        weights=False,
        out=out,
        arms="jax-torch-pad,jax-same,jax-same-keras-clip,keras-tensorflow,keras-jax,reference-f64",
    )  # raises where an arm errors (the CLI's exit 1)
    a = json.loads(out.read_text())
    mech = {x["keras_arm"]: x for x in a["mechanism"]}
    assert mech["keras-tensorflow"]["emulation"] == "jax-same" and mech["keras-tensorflow"]["reproduced"]
    assert mech["keras-jax"]["emulation"] == "jax-same-keras-clip" and mech["keras-jax"]["reproduced"]
    runs = {r["arm"]: r for r in a["runs"]}
    ref = runs["reference-f64"]["curves"]["loss"][0]
    for arm in ("jax-same", "keras-tensorflow", "keras-jax"):
        assert runs[arm]["curves"]["loss"][0] == pytest.approx(ref, rel=1e-5), arm
    assert abs(runs["jax-torch-pad"]["curves"]["loss"][0] - ref) > 1e-3  # measured 0.6934 vs 0.6992
