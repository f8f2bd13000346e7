"""pool-padding: SAME average pooling on an 18-wide map pads (0, 1); TensorFlow and Keras-JAX divide each window's
sum by its real cells, the literal port (flax's default, a reduce_window over 9) by 9, torch's nn.AvgPool2d(padding=1)
pads (1, 1) and divides by 9, and Keras-torch replicates the edge into the padded cell. Pinned exactly on
constructed maps (float64), on the preset, and once end to end against Keras-TF and Keras-torch (slow)."""

from __future__ import annotations

import importlib.util
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from paritybench import workloads
from paritybench.analysis.conventions_table import declaration_mismatches
from paritybench.arms import f64, jax_trainer
from paritybench.arms.base import TrainSpec
from paritybench.experiment import data
from paritybench.pipeline.localize import FACTOR
from paritybench.workloads.base import resolve_ref
from paritybench.workloads.pool_padding import jax_model as m
from paritybench.workloads.pool_padding.workload import CONV_SIDE, FILTERS, OUT_SIDE

from .conftest import ROOT
from .test_conventions import _main_table
from .test_localize import _localize

# each output cell's count of real (unpadded) cells under SAME (0, 1): 9 inside, 6 on the last row or column, 4 at
# the corner
COUNTS = np.full((OUT_SIDE, OUT_SIDE), 9.0)
COUNTS[-1, :] = COUNTS[:, -1] = 6.0
COUNTS[-1, -1] = 4.0


def _map(seed: int = 0, n: int = 2) -> np.ndarray:
    """A constructed NHWC feature map, every cell different (float64)."""
    return np.random.default_rng(seed).uniform(0.0, 1.0, size=(n, CONV_SIDE, CONV_SIDE, FILTERS))


def _pool(fn, fmap: np.ndarray) -> np.ndarray:
    with jax.enable_x64(True):
        return np.asarray(fn(jnp.asarray(fmap, jnp.float64)))


def test_same_pads_zero_before_and_one_after_and_torch_padding_1_keeps_the_size():
    assert [tuple(p) for p in lax.padtype_to_pads((CONV_SIDE,) * 2, (3, 3), (2, 2), "SAME")] == [(0, 1), (0, 1)]
    assert (CONV_SIDE + 2 * 1 - 3) // 2 + 1 == OUT_SIDE == -(-CONV_SIDE // 2)  # torch's size = SAME's: no complaint
    counts = _pool(lambda f: m.pool_sum(f, "SAME"), np.ones((1, CONV_SIDE, CONV_SIDE, 1)))[0, :, :, 0]
    np.testing.assert_array_equal(counts, COUNTS)


def test_the_literal_port_is_the_fix_times_real_cells_over_9():
    """Exact: inside the map the two are one division by 9 (bit-identical); on the last row and column the port
    is TensorFlow's average times 6/9, at the corner 4/9."""
    fmap = _map()
    fix, port = _pool(m.pool_exclude, fmap), _pool(m.pool_include, fmap)
    np.testing.assert_array_equal(port[:, :-1, :-1], fix[:, :-1, :-1])
    np.testing.assert_allclose(port, fix * (COUNTS / 9.0)[None, :, :, None], rtol=1e-14, atol=0)
    assert np.all(np.abs(port[:, -1, :] - fix[:, -1, :]) > 0)


def test_keras_torch_replicate_is_a_b_b_over_3_and_tf_only_where_the_last_two_rows_agree():
    """Keras-torch's (0, 1) replicated cell: an edge window reads rows (16, 17, 17) over 9 where TensorFlow reads
    (16, 17) over 6; equal inside, and equal everywhere on a map whose last two rows and columns repeat."""
    fmap = _map(1)
    fix, rep = _pool(m.pool_exclude, fmap), _pool(m.pool_replicate, fmap)
    # inside equal to rounding (2e-16: the padded array's sums run in another order)
    np.testing.assert_allclose(rep[:, :-1, :-1], fix[:, :-1, :-1], rtol=1e-14, atol=0)
    # the last row, away from the corner: output (8, j) averages rows 16, 17, 17 over columns 2j .. 2j + 2
    j = 3
    cols = fmap[:, :, 2 * j : 2 * j + 3, :]
    expected = (cols[:, 16].sum(1) + 2 * cols[:, 17].sum(1)) / 9.0
    np.testing.assert_allclose(rep[:, -1, j, :], expected, rtol=1e-14)
    assert np.max(np.abs(rep[:, -1] - fix[:, -1])) > 1e-3
    flat = fmap.copy()
    flat[:, -1, :, :] = flat[:, -2, :, :]
    flat[:, :, -1, :] = flat[:, :, -2, :]
    np.testing.assert_allclose(_pool(m.pool_replicate, flat), _pool(m.pool_exclude, flat), rtol=1e-14)


def test_torch_padding_1_moves_every_window_one_cell_up_and_left():
    """A single lit cell at (5, 5): SAME's windows (rows 2i .. 2i + 2) see it in output (2, 2) only; padding (1, 1)
    (rows 2i - 1 .. 2i + 1) in (2, 2), (2, 3), (3, 2), (3, 3); each over 9."""
    fmap = np.zeros((1, CONV_SIDE, CONV_SIDE, 1))
    fmap[0, 5, 5, 0] = 9.0
    same = _pool(m.pool_exclude, fmap)[0, :, :, 0]
    assert {tuple(map(int, i)): float(same[tuple(i)]) for i in np.argwhere(same)} == {(2, 2): 1.0}
    t = _pool(m.pool_torch_pad, fmap)[0, :, :, 0]
    assert {tuple(map(int, i)): float(t[tuple(i)]) for i in np.argwhere(t)} == {
        (2, 2): 1.0,
        (2, 3): 1.0,
        (3, 2): 1.0,
        (3, 3): 1.0,
    }


def test_torch_avgpool_defaults_and_the_torch_arms_equal_their_jax_twins(torch):
    """torch's nn.AvgPool2d counts the padding by default; F.avg_pool2d(padding=1) is the JAX (1, 1)/9 pooling and
    the zero-pad (0, 1) plus count map is TensorFlow's, to 1e-12 in float64."""
    from paritybench.workloads.pool_padding import torch_model as t

    assert torch.nn.AvgPool2d(3, stride=2, padding=1).count_include_pad is True
    fmap = _map(2)
    nchw = torch.tensor(fmap.transpose(0, 3, 1, 2))
    pad1 = t.pool_pad1(nchw).numpy().transpose(0, 2, 3, 1)
    excl = t.pool_exclude(nchw).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(pad1, _pool(m.pool_torch_pad, fmap), rtol=0, atol=1e-12)
    np.testing.assert_allclose(excl, _pool(m.pool_exclude, fmap), rtol=0, atol=1e-12)


def test_preset_border_cells_differ_and_the_fix_stays_on_the_reference():
    """The preset's 1000 images at the initial weights: the port's pooled map equals the fix's inside and is 6/9
    (4/9) of it on the border (measured below); after 10 steps the fix is within float32 rounding of the float64
    reference and the ports are not."""
    w = workloads.load("pool-padding")
    x, y = data.window(data.load_mnist(), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)
    params = {k: jnp.asarray(v) for k, v in init.items()}
    fmap = m.conv(params, jnp.asarray(x))
    fix, port = np.asarray(m.pool_exclude(fmap)), np.asarray(m.pool_include(fmap))
    np.testing.assert_array_equal(port[:, :-1, :-1], fix[:, :-1, :-1])
    edge = (
        np.abs(port - fix)[:, -1, :-1].max(),
        np.abs(port - fix)[:, :-1, -1].max(),
        np.abs(port - fix)[:, -1, -1].max(),
    )
    print(f"\nmax |port - fix| on the last row {edge[0]:.4g}, last column {edge[1]:.4g}, corner {edge[2]:.4g}")
    assert min(edge[:2]) > 0.01
    spec = TrainSpec(steps=w.training.steps, lr=w.training.lr)
    ref = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0].final_weights

    def gap(arm: str) -> float:
        fw = jax_trainer.train_many(w, w.arm(arm), [init], x, y, spec)[0].final_weights
        return max(float(np.max(np.abs(fw[k] - ref[k]))) for k in ref)

    assert gap("jax-pool-exclude-pad") < 1e-6
    assert gap("jax-pool-include-pad") > 1e-3 and gap("jax-pool-torch-pad") > 1e-3


def test_localize_parts_the_ports_at_the_pooling_and_never_the_fix():
    """Step 0, forward: the convolution agrees, the pooled map parts first (then the logits); the fixes never part."""
    arms = ["jax-pool-include-pad", "jax-pool-torch-pad", "jax-pool-exclude-pad", "torch-avgpool-pad1"]
    r = _localize("pool-padding", [*arms, "torch-avgpool-exclude"], n=200)  # 200 of 1000 images: the same answer
    for port in ("jax-pool-include-pad", "jax-pool-torch-pad", "torch-avgpool-pad1"):
        f = r[port].first
        assert f is not None and (f.step, f.phase, f.tensor) == (0, "forward", "pool"), r[port].line()
        assert r[port].parted_tensors[:2] == ["pool", "logits"], r[port].line()
    for fix in ("jax-pool-exclude-pad", "torch-avgpool-exclude"):
        assert r[fix].first is None and r[fix].max_ratio < FACTOR, r[fix].line()


def test_conventions_name_the_pooling_and_the_declarations_hold():
    t = _main_table("pool-padding", ("jax-pool-include-pad", "jax-pool-exclude-pad", "reference-f64"))
    assert {"forward pass", "declared: average pooling"} <= set(t["differing"])
    assert declaration_mismatches(t["arms"]) == []


def test_committed_baseline_every_backend_as_its_emulation_and_keras_torch_off_the_reference():
    """results/baselines/pool-padding-cpu.json: Keras-TF and Keras-JAX reproduced by the exclude-pad arms, Keras-torch
    by the replicated edge (each within 1e-6 after step 1), and Keras-torch off the float64 reference (measured 1.7e-3
    after step 1) where Keras-TF stays on it."""
    a = json.loads((ROOT / "results" / "baselines" / "pool-padding-cpu.json").read_text())
    mech = {x["keras_arm"]: (x["emulation"], x["reproduced"]) for x in a["mechanism"]}
    assert mech["keras-tensorflow"] == ("jax-pool-exclude-pad", True)
    assert mech["keras-jax"] == ("jax-pool-exclude-pad-keras-clip", True)
    assert mech["keras-torch"] == ("jax-pool-replicate-keras-torch-clip", True)
    step1 = {r["arm"]: r["curves"]["weight_max_abs_diff"][1] for r in a["runs"]}
    assert step1["keras-torch"] > 1e-4 and step1["keras-tensorflow"] < 1e-6


@pytest.mark.slow
def test_pool_padding_end_to_end_one_step(tmp_path, api_run):
    """One step through api.run: Keras-torch replicates the edge (reproduced by its emulation within 1e-6); its
    step-0 loss is neither the float64 reference's (TensorFlow's divisor) nor the port's."""
    out = tmp_path / "pp.json"
    api_run(
        "pool-padding",
        steps=1,
        weights=False,
        out=out,
        arms="jax-pool-include-pad,jax-pool-exclude-pad,jax-pool-replicate-keras-torch-clip,keras-torch,reference-f64",
    )  # raises where an arm errors (the CLI's exit 1)
    a = json.loads(out.read_text())
    runs = {r["arm"]: r for r in a["runs"]}
    ref = runs["reference-f64"]["curves"]["loss"][0]
    assert runs["jax-pool-exclude-pad"]["curves"]["loss"][0] == pytest.approx(ref, rel=1e-6)
    assert abs(runs["jax-pool-include-pad"]["curves"]["loss"][0] - ref) > 1e-4  # measured 0.71490 vs 0.71425
    if importlib.util.find_spec("torch") or os.environ.get("PARITYBENCH_REQUIRE_TORCH") == "1":  # the torch extra
        mech = {x["keras_arm"]: x for x in a["mechanism"]}
        assert mech["keras-torch"]["emulation"] == "jax-pool-replicate-keras-torch-clip"
        assert mech["keras-torch"]["reproduced"], mech["keras-torch"]
        assert abs(runs["keras-torch"]["curves"]["loss"][0] - ref) > 3e-5  # measured 0.714321 vs 0.714252
