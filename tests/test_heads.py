"""The heads on constructed arrays, where every count is known by hand: multi-label sigmoid, class ids and
sequences for softmax, and the one-label sigmoid and one-hot softmax as they were."""

from types import SimpleNamespace

import jax.numpy as jnp
import numpy as np
import pytest

from paritybench.errors import ParityError
from paritybench.experiment import heads
from paritybench.workloads.datasource import _check_head

BIG = 30.0  # past SATURATION_LOGIT: sigmoid(30) is exactly 1.0 in float32


def test_multilabel_counts_each_label_and_averages_over_all_labels():
    # 3 samples x 4 labels; predicted positive where z > 0
    z = np.array([[2.0, -1.0, 0.5, -3.0], [-2.0, 1.0, BIG, 0.1], [1.0, 1.0, -1.0, -BIG]], np.float32)
    y = np.array([[1, 0, 0, 0], [0, 1, 1, 1], [0, 0, 0, 0]], np.float32)
    # right: row 0: 1,1,0,1 (3); row 1: 1,1,1,1 (4); row 2: 0,0,1,1 (2) -> 9 of 12 labels
    for xp in (np, jnp):
        assert int(heads.count_correct(xp, "sigmoid", xp.asarray(z), xp.asarray(y))) == 9
    assert heads.targets("sigmoid", y.shape, y.dtype) == "multilabel"
    assert heads.scored("sigmoid", y.shape, y.dtype) == 12 and heads.UNIT["multilabel"] == "label"
    p = heads.probabilities(np, "sigmoid", z)
    dz = p - y
    dz[1, 2] = 0.0  # a dead label that is right (sample 1, label 2: z=30, y=1)
    dz[2, 0] = 0.0  # a dead label that is wrong (sample 2, label 0: z=1, y=0)
    m = heads.measure(np, "sigmoid", z, dz, y)
    assert m["correct"] == 9
    # z = 30 rounds p to exactly 1.0; z = -30 leaves p = 9.4e-14, not 0: one label's output saturates, two logits
    assert m["saturated_output"] == pytest.approx(1 / 12)
    assert m["saturated_logit"] == pytest.approx(2 / 12)
    assert m["dead_gradient"] == pytest.approx(2 / 12)
    assert m["dead_misclassified"] == pytest.approx(1 / 12)  # per label, not per sample
    assert m["nonfinite_gradient"] == 0.0


def test_one_label_sigmoid_is_counted_per_sample_as_before():
    z = np.array([[3.0], [-1.0], [BIG], [0.2]], np.float32)
    y = np.array([[1.0], [1.0], [0.0], [1.0]], np.float32)
    dz = heads.probabilities(np, "sigmoid", z) - y
    dz[2, 0] = 0.0  # a clipped loss gave up on sample 2 (wrong)
    m = heads.measure(np, "sigmoid", z, dz, y)
    assert m["correct"] == 2 and heads.scored("sigmoid", y.shape, y.dtype) == 4
    assert heads.targets("sigmoid", y.shape, y.dtype) == "binary" and heads.UNIT["binary"] == "sample"
    assert m["dead_misclassified"] == pytest.approx(1 / 4) and m["saturated_logit"] == pytest.approx(1 / 4)
    # the JAX arms' program computes the same shares
    mj = heads.measure(jnp, "sigmoid", jnp.asarray(z), jnp.asarray(dz), jnp.asarray(y))
    for k in ("correct", *heads.PER_STEP):
        assert float(mj[k]) == pytest.approx(float(m[k]), abs=0)


def test_softmax_class_ids_and_one_hot_count_the_same_samples():
    z = np.array([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 5.0], [0.0, 0.0, 1.0]], np.float32)
    ids = np.array([0, 2, 2, 1], np.int32)  # right, wrong, right, wrong
    onehot = np.eye(3, dtype=np.float32)[ids]
    for xp in (np, jnp):
        assert heads.count_correct(xp, "softmax", xp.asarray(z), xp.asarray(ids)) == 2
        assert heads.count_correct(xp, "softmax", xp.asarray(z), xp.asarray(onehot)) == 2
    assert heads.targets("softmax", ids.shape, ids.dtype) == "ids"
    assert heads.targets("softmax", onehot.shape, onehot.dtype) == "onehot"
    assert heads.scored("softmax", ids.shape, ids.dtype) == heads.scored("softmax", onehot.shape, onehot.dtype) == 4
    dz = heads.probabilities(np, "softmax", z) - onehot
    assert heads.measure(np, "softmax", z, dz, ids) == heads.measure(np, "softmax", z, dz, onehot)


def test_sequence_softmax_counts_positions():
    # 2 sequences x 3 positions x 4 classes; the predicted class is the position of the largest logit
    z = np.zeros((2, 3, 4), np.float32)
    pred = np.array([[0, 1, 2], [3, 3, 0]])
    for i in range(2):
        for t in range(3):
            z[i, t, pred[i, t]] = 2.0
    z[1, 2, 0] = 40.0  # one saturated position: margin 40
    ids = np.array([[0, 1, 1], [3, 2, 1]], np.int64)  # right: 1,1,0 / 1,0,0 -> 3 of 6 positions
    onehot = np.eye(4, dtype=np.float32)[ids]
    for y in (ids, onehot):
        for xp in (np, jnp):
            assert heads.count_correct(xp, "softmax", xp.asarray(z), xp.asarray(y)) == 3
        assert heads.scored("softmax", y.shape, y.dtype) == 6
    assert heads.targets("softmax", ids.shape, ids.dtype) == "sequence-ids"
    assert heads.UNIT[heads.targets("softmax", onehot.shape, onehot.dtype)] == "position"
    dz = heads.probabilities(np, "softmax", z) - onehot
    dz[1, 2] = 0.0  # a position whose k logits all get no gradient (wrong: predicted 0, label 1)
    dz[0, 0] = 0.0  # and a right one
    m = heads.measure(np, "softmax", z, dz, ids)
    assert m["correct"] == 3
    assert m["saturated_logit"] == pytest.approx(1 / 6)
    assert m["dead_gradient"] == pytest.approx(2 / 6) and m["dead_misclassified"] == pytest.approx(1 / 6)
    dz[0, 1, 3] = np.nan  # one logit of one position
    assert heads.measure(np, "softmax", z, dz, ids)["nonfinite_gradient"] == pytest.approx(1 / 6)
    assert int(np.sum(heads.dead_mask(np, "softmax", dz))) == 2


@pytest.mark.parametrize(
    "head,out,y,dtype,fits",
    [
        ("sigmoid", (8, 1), (8, 1), np.float32, True),
        ("sigmoid", (8, 5), (8, 5), np.float32, True),
        ("sigmoid", (8, 6, 5), (8, 6, 5), np.float32, True),
        ("sigmoid", (8, 1), (8, 5), np.float32, False),
        ("softmax", (8, 10), (8, 10), np.float32, True),
        ("softmax", (8, 10), (8,), np.int64, True),
        ("softmax", (8, 6, 10), (8, 6), np.int32, True),
        ("softmax", (8, 6, 10), (8, 6, 10), np.float32, True),
        ("softmax", (8, 10), (8, 1), np.int64, False),  # ids with a trailing axis: the data load squeezes it
        ("softmax", (8, 1, 10), (8,), np.int64, False),  # (n, 1) ids squeezed, but the logits are sequences of one
        ("softmax", (8, 10), (8, 10), np.int64, False),  # integer one-hot: give floats
        ("softmax", (8, 6, 10), (8, 6), np.float32, False),  # float ids: give integers
        ("softmax", (8, 1), (8,), np.int64, False),  # one class is no softmax
    ],
)
def test_problem_names_the_fit_of_logits_and_targets(head, out, y, dtype, fits):
    why = heads.problem(head, out, y, np.dtype(dtype))
    assert (why is None) == fits, why
    if not fits:
        assert "\n" not in why and ("give" in why or "make" in why or "squeeze" in why or "reshape" in why)


def _workload(head: str):
    """What ``_check_head`` reads of a workload: its head."""
    return SimpleNamespace(model=SimpleNamespace(head=head))


@pytest.mark.parametrize(
    "head,y,message",
    [
        ("sigmoid", np.zeros(5, np.float32), "reshape it to (n, 1)"),
        ("softmax", np.array([0, -1, 2]), "is negative"),
        ("softmax", np.zeros(5, np.float32), "y.astype('int32')"),
        ("softmax", np.zeros((5, 1), np.float32), "y.astype('int32')"),  # float ids with a trailing axis
    ],
)
def test_targets_that_fit_no_head_are_one_line_errors_naming_the_fix(head, y, message):
    with pytest.raises(ParityError) as e:
        _check_head(_workload(head), y, "workload w")
    assert message in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize(
    "head,y",
    [
        ("sigmoid", np.zeros((5, 3), np.float32)),
        ("softmax", np.array([0, 3, 2])),
        ("softmax", np.zeros((5, 7), np.int64)),
        ("softmax", np.zeros((5, 7, 3), np.float32)),
    ],
)
def test_targets_of_every_head_form_pass_the_data_check(head, y):
    _check_head(_workload(head), y, "workload w")


def test_the_keras_worker_refuses_an_output_that_fits_no_target_form_in_one_line():
    from paritybench.arms.keras_worker import check_targets

    w = SimpleNamespace(name="w", model=SimpleNamespace(head="softmax"))
    arm = SimpleNamespace(name="keras-tensorflow")
    check_targets(SimpleNamespace(output_shape=(None, 8, 5)), np.zeros((4, 8), np.int64), w, arm)  # ids per token
    check_targets(SimpleNamespace(output_shape=(None, 5)), np.eye(5, dtype=np.float32)[[0, 1, 2, 3]], w, arm)
    with pytest.raises(ParityError) as e:
        check_targets(SimpleNamespace(output_shape=(None, 8, 5)), np.zeros((4, 8), np.float32), w, arm)
    assert "y.astype('int32')" in str(e.value) and "arm keras-tensorflow" in str(e.value)
    w = SimpleNamespace(name="w", model=SimpleNamespace(head="sigmoid"))
    check_targets(SimpleNamespace(output_shape=(None, 4)), np.zeros((4, 4), np.float32), w, arm)  # multi-label
    with pytest.raises(ParityError) as e:
        check_targets(SimpleNamespace(output_shape=(None, 1)), np.zeros((4, 4), np.float32), w, arm)
    assert "one logit per label, shape (4, 4)" in str(e.value) and "\n" not in str(e.value)


def test_a_class_id_past_the_last_class_is_refused_in_one_line_naming_the_range():
    assert heads.problem("softmax", (8, 10), (8,), np.dtype(np.int64), top=9) is None
    why = heads.problem("softmax", (8, 10), (8,), np.dtype(np.int64), top=10)
    assert "class id 10 is out of range" in why and "give ids 0..9" in why and "\n" not in why
    why = heads.problem("softmax", (8, 6, 5), (8, 6), np.dtype(np.int32), top=7)
    assert "class id 7" in why and "0..4" in why
    assert heads.top_id(np.array([[3], [11]])) == 11 and heads.top_id(np.zeros(3, np.float32)) is None
    from paritybench.arms.keras_worker import check_targets

    w = SimpleNamespace(name="w", model=SimpleNamespace(head="softmax"))
    with pytest.raises(ParityError) as e:
        check_targets(SimpleNamespace(output_shape=(None, 3)), np.array([0, 1, 3]), w, SimpleNamespace(name="k"))
    assert "class id 3 is out of range" in str(e.value) and "arm k" in str(e.value) and "\n" not in str(e.value)


def test_the_chance_level_of_a_sweep_counts_as_the_heads_accuracy_does():
    """``stats.majority_rates``: a constant guess's accuracy, per label or position as ``correct`` counts them."""
    from paritybench.analysis.stats import majority_rates

    ids = np.array([0, 0, 1, 2])  # class ids: the commonest class's share
    tags = np.array([[0, 1, 1], [1, 1, 2]])  # ids per position: 4 of 6 positions are class 1
    multi = np.array([[1, 0], [1, 1], [0, 0], [1, 0]], np.float32)  # each label's majority: 3/4 and 3/4
    seq = np.eye(3)[tags]  # the same tags one-hot, (n, T, k)
    binary = np.array([[1], [0], [1], [1], [1]], np.float32)
    got = majority_rates({0: ids, 1: tags, 2: seq}, "softmax") | majority_rates({3: multi, 4: binary}, "sigmoid")
    assert got == {0: 0.5, 1: 4 / 6, 2: 4 / 6, 3: 0.75, 4: 0.8}
    assert majority_rates({4: binary}) == {4: 0.8}  # one label per sample: as before, with or without the head
    onehot = np.eye(3, dtype=np.float32)[ids]
    assert majority_rates({0: onehot}) == majority_rates({0: onehot}, "softmax") == {0: 0.5}
