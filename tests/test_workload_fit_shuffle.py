"""fit-shuffle: Keras-JAX's fit order exactly on constructed cases, the declaration's refusals, the preset's gap
(JAX arms), the committed baseline's recorded orders, and one short run through api.run and the Keras workers."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from paritybench import workloads
from paritybench.arms import f64, jax_trainer
from paritybench.arms.base import TrainSpec
from paritybench.arms.minibatch import arm_rows, batch_slices, epochs_needed, numpy_fit_order, order_rows
from paritybench.errors import ParityError
from paritybench.experiment import data
from paritybench.workloads.base import check, resolve_ref
from paritybench.workloads.fit_shuffle.workload import BATCH, HOLDOUT, SEED, N

from .conftest import ROOT

BASELINE = ROOT / "results" / "baselines" / "fit-shuffle-cpu.json"


def test_keras_jax_order_is_randomstate_permutations_after_the_symbolic_build_draw():
    """np.random.seed(s) then np.random.permutation(n) per iterator start (the first: fit's symbolic build)."""
    np.random.seed(7)
    drawn = [np.random.permutation(12) for _ in range(4)]
    got = numpy_fit_order(7, 12, 3)
    assert all(np.array_equal(g, d) for g, d in zip(got, drawn[1:], strict=True))
    assert not np.array_equal(got[0], drawn[0])  # the build's draw is skipped, not trained on


def test_order_rows_steps_through_each_epochs_permutation_then_the_next():
    orders = [np.arange(8)[::-1], np.arange(8)]
    rows = order_rows([o[:6] for o in orders], 3, 4)
    assert [r.tolist() for r in rows] == [[7, 6, 5], [4, 3, 2], [0, 1, 2], [3, 4, 5]]
    assert epochs_needed(256, 32, 16) == 2 and epochs_needed(256, 32, 17) == 3 and epochs_needed(10, None, 3) == 3


def test_every_shuffled_epoch_is_a_permutation_and_the_port_steps_in_window_order():
    w = workloads.load("fit-shuffle")
    fix = arm_rows(w.arm(w.fix), N, BATCH, 16)
    port = arm_rows(w.arm("jax-in-order"), N, BATCH, 16)
    assert port == batch_slices(N, BATCH, 16)
    for e in range(2):
        epoch = np.concatenate(fix[8 * e : 8 * (e + 1)])
        assert sorted(epoch.tolist()) == list(range(N))  # every sample once per epoch
        assert not np.array_equal(epoch, np.arange(N))
    assert not np.array_equal(np.concatenate(fix[:8]), np.concatenate(fix[8:]))  # a new order each epoch


def test_shuffle_seed_is_refused_on_a_torch_arm_a_full_batch_workload_and_a_non_int():
    w = workloads.load("fit-shuffle")
    torch_arm = replace(w.arm("torch-in-order"), shuffle_seed=0)
    with pytest.raises(ParityError, match="torch arm trains its batches in window order"):
        check(replace(w, arms=tuple(torch_arm if a.name == torch_arm.name else a for a in w.arms)), "t")
    with pytest.raises(ParityError, match="data.batch_size is None"):
        check(replace(w, data=replace(w.data, batch_size=None)), "t")
    bad = replace(w.arm(w.fix), shuffle_seed=True)
    with pytest.raises(ParityError, match="shuffle_seed True must be an int"):
        check(replace(w, arms=tuple(bad if a.name == bad.name else a for a in w.arms)), "t")


def test_holdout_is_validation_split_point_two_the_last_rows():
    """Keras's train_validation_split keeps rows [floor(m * 0.8), m) for validation: the 64 after the 256."""
    m = N + HOLDOUT
    split_at = int(np.floor(m * (1.0 - HOLDOUT / m)))
    assert (split_at, m - split_at) == (N, HOLDOUT)


def test_preset_port_parts_from_the_reference_and_the_fix_matches_it():
    """The preset (JAX arms): the in-order port ends far from the float64 arbiter in Keras-JAX's order, the fix
    (the same order in float32) within rounding of it."""
    w = workloads.load("fit-shuffle")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)
    spec = TrainSpec(steps=w.training.steps, lr=w.training.lr, batch_size=w.data.batch_size)
    ref_run = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0]
    ref = ref_run.final_weights

    def gap(arm):
        fw = jax_trainer.train_many(w, w.arm(arm), [init], x, y, spec)[0].final_weights
        return max(float(np.max(np.abs(fw[k] - ref[k]))) for k in ref)

    port, fix = gap("jax-in-order"), gap("jax-fit-order")
    print(f"\nmax|w - w_f64| after {spec.steps} steps: port {port:.3g}, fix {fix:.3g}")
    assert port > 1e-3  # 7.4e-3 measured; the fix 8.9e-8
    assert fix < 1e-5
    assert ref_run.info["shuffle"]["seed"] == SEED
    assert ref_run.info["shuffle"]["rows"][0] == arm_rows(w.arm("reference-f64"), N, BATCH, 1)[0].tolist()


def test_baseline_records_each_shuffled_arms_order_and_keras_jax_is_the_ports_replay():
    a = json.loads(BASELINE.read_text())
    runs = {r["arm"]: r for r in a["runs"]}
    rows = {arm: r["info"]["shuffle"]["rows"] for arm, r in runs.items() if "shuffle" in r["info"]}
    assert set(rows) == {
        "jax-fit-order",
        "jax-fit-order-keras-clip",
        "keras-tensorflow",
        "keras-jax",
        "keras-torch",
        "reference-f64",
    }
    assert rows["keras-jax"] == rows["jax-fit-order"] == rows["reference-f64"]
    # TensorFlow's and torch's generators draw other orders, each a permutation per epoch
    assert rows["keras-tensorflow"] != rows["keras-jax"] and rows["keras-torch"] != rows["keras-jax"]
    for arm in ("keras-tensorflow", "keras-torch"):
        assert sorted(sum(rows[arm][:8], [])) == list(range(N))
    mech = {m["keras_arm"]: m for m in a["mechanism"]}
    assert mech["keras-jax"]["emulation"] == "jax-fit-order-keras-clip" and mech["keras-jax"]["reproduced"]
    assert mech["keras-tensorflow-in-order"]["emulation"] == "jax-in-order"


@pytest.mark.slow
def test_end_to_end_keras_jax_fit_order_is_replayed_across_an_epoch_boundary(tmp_path, api_run):
    """Nine steps through api.run (epoch 2's first batch included): Keras-JAX's shuffled fit is reproduced by the
    JAX arm in NumPy's order, Keras-TF's fit(shuffle=False) by the in-order port."""
    out = tmp_path / "fs.json"
    arms = "jax-in-order,jax-fit-order-keras-clip,keras-jax,keras-tensorflow-in-order,reference-f64"
    api_run("fit-shuffle", steps=9, weights=False, out=out, arms=arms)  # raises where an arm errors (the CLI's exit 1)
    a = json.loads(out.read_text())
    mech = {m["keras_arm"]: m for m in a["mechanism"]}
    assert set(mech) == {"keras-jax", "keras-tensorflow-in-order"}
    for m in mech.values():
        assert m["reproduced"] and m["max_abs_diff_final"] <= 1e-6, m
    runs = {r["arm"]: r for r in a["runs"]}
    assert runs["keras-jax"]["info"]["shuffle"]["rows"] == runs["jax-fit-order-keras-clip"]["info"]["shuffle"]["rows"]


def test_conventions_read_each_arms_batch_order_and_only_where_an_arm_shuffles():
    from paritybench.arms.jax_conventions import main_arm_rows

    w = workloads.load("fit-shuffle")
    port = main_arm_rows(w, w.arm("jax-in-order"), 0.1)["batch order"]
    fix = main_arm_rows(w, w.arm("jax-fit-order"), 0.1)["batch order"]
    assert port.startswith("window order") and fix.startswith(f"fit(shuffle=True) order, seed {SEED}")
    other = workloads.load("batchnorm-momentum")  # minibatches, no shuffled arm: no row, its rows as before
    assert "batch order" not in main_arm_rows(other, other.arm(other.fix), 0.1)
