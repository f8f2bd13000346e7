"""A workload's own data (``Data(source=...)``) and the linear head: every check on the arrays, the head's
numbers against a hand computation, and the example ``examples/own_regression`` through ``run``,
``compare`` and ``report``."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

from paritybench import workloads
from paritybench.analysis import report_table
from paritybench.errors import ParityError
from paritybench.experiment import data, heads
from paritybench.pipeline import runner
from paritybench.workloads import Data, datasource
from paritybench.workloads.base import check

from .conftest import ROOT, run_cli

EXAMPLE = ROOT / "examples" / "own_regression"


@pytest.fixture(scope="module")
def example():
    return workloads.load(str(EXAMPLE / "workload.py"))


def with_data(w, **fields):
    """The example with other Data fields, checked as a loaded workload is."""
    return check(dataclasses.replace(w, data=Data(**{"n": 8, **fields})), "test")


def one_line(exc: pytest.ExceptionInfo, *needles: str) -> str:
    msg = str(exc.value)
    assert "\n" not in msg, msg
    for needle in needles:
        assert needle in msg, (needle, msg)
    return msg


def npz(tmp_path: Path, **arrays) -> str:
    path = tmp_path / "d.npz"
    np.savez(path, **arrays)
    return str(path)


# ---------------------------------------------------------------- loading the arrays


def test_the_example_names_its_npz_beside_its_file_whatever_the_current_folder(example, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert example.data.source == str(EXAMPLE / "data.npz")
    ds = datasource.load(example)
    assert ds.x_train.shape == (512, 8) and ds.y_train.shape == (512, 1)
    assert ds.sha256 == hashlib.sha256((EXAMPLE / "data.npz").read_bytes()).hexdigest()
    assert data.describe(ds) == {
        "path": str(EXAMPLE / "data.npz"),
        "sha256": ds.sha256,
        "bundled": False,
        "source": "npz",
        "x": "features",
        "y": "targets",
        "x_shape": [512, 8],
        "x_dtype": "float32",
        "y_shape": [512, 1],
        "y_dtype": "float32",
        "order": "fixed",
    }


def test_the_committed_npz_is_what_the_generator_writes():
    import importlib.util

    spec = importlib.util.spec_from_file_location("own_regression_make_data", EXAMPLE / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    x, y = module.make()
    with np.load(EXAMPLE / "data.npz") as z:
        np.testing.assert_array_equal(z["features"], x)
        np.testing.assert_array_equal(z["targets"], y)


def test_arrays_of_any_shape_and_dtype_window_as_they_are(example, tmp_path):
    tokens = np.arange(40, dtype=np.int64).reshape(10, 4)  # integer tokens stay integers
    images = np.linspace(0, 1, 10 * 3 * 2 * 2).reshape(10, 3, 2, 2)  # float64 images become float32
    w = with_data(example, source=npz(tmp_path, x=tokens, y=images))
    x, y = data.window(datasource.load(w), 2, 8, labels=w.data.labels)
    assert x.dtype == np.int64 and x.shape == (8, 4) and x[0, 0] == 8
    assert y.dtype == np.float32 and y.shape == (8, 3, 2, 2)
    np.testing.assert_array_equal(y, images[2:10].astype(np.float32))


def test_a_seeded_shuffle_permutes_once_and_is_recorded(example, tmp_path):
    x = np.arange(10, dtype=np.float32).reshape(10, 1)
    w = with_data(example, source=npz(tmp_path, x=x, y=x * 2), shuffle=3)
    ds = datasource.load(w)
    perm = np.random.default_rng(3).permutation(10)
    np.testing.assert_array_equal(ds.x_train[:, 0], perm.astype(np.float32))
    np.testing.assert_array_equal(ds.y_train, ds.x_train * 2)  # pairs stay together
    assert ds.record["order"] == "shuffled" and ds.record["shuffle_seed"] == 3


def make_pair():
    return np.ones((9, 2), np.float32), np.zeros((9, 1), np.float32)


def test_a_function_source_is_called_and_its_arrays_hashed(example):
    w = with_data(example, source=make_pair)
    ds = datasource.load(w)
    x, y = make_pair()
    assert ds.sha256 == data.arrays_sha256(x, y)
    assert ds.record["source"] == "function" and ds.record["function"] == "make_pair"
    assert data.arrays_sha256(x, y) != data.arrays_sha256(x, y.astype(np.float64))  # the dtype is part of it


def test_mnist_arrays_are_the_bundled_slice_as_the_builtin_workloads_read_it(tmp_path):
    """``workloads.mnist_arrays``, the public way to shape MNIST in a data function (examples/own_lstm/data.py):
    the images and digits ``Data(dataset="mnist")`` reads; another file is held to the same checks."""
    images, digits = workloads.mnist_arrays()
    ds = datasource.load(workloads.load("seed-bce"))
    assert ds.bundled and ds.sha256 == data.BUNDLED_SHA256
    assert (images.shape, images.dtype, digits.shape, digits.dtype) == ((10000, 28, 28), np.uint8, (10000,), np.uint8)
    np.testing.assert_array_equal(images, ds.x_train)
    np.testing.assert_array_equal(digits, ds.y_train)
    bad = tmp_path / "mnist.npz"
    np.savez(bad, x_train=np.zeros((4, 28, 28), np.uint8), y_train=np.full(4, 11, np.uint8))
    with pytest.raises(ParityError, match="outside 0-9"):
        workloads.mnist_arrays(bad)


def test_a_function_source_that_raises_is_its_own_file_and_line(example):
    def broken():
        raise ValueError("no such table\nsecond line")

    w = with_data(example, source=broken)
    with pytest.raises(ParityError) as exc:
        datasource.load(w)
    one_line(exc, "raised ValueError at", f"{__file__}:", "no such table")


@pytest.mark.parametrize(
    ("arrays", "needles"),
    [
        ({"x": np.ones((10, 2)), "y": np.ones(9)}, ("x has 10 samples but y has 9",)),
        ({"x": np.array(["a", "b"]), "y": np.ones(2)}, ("x has dtype <U1, which does not train",)),
        ({"x": np.ones((4, 2)), "y": np.ones(4, np.complex64)}, ("y has dtype complex64",)),
        (
            {"x": np.where(np.arange(8).reshape(4, 2) == 5, np.nan, 1.0), "y": np.ones(4)},
            ("x holds 1 NaN or infinite value(s), the first at sample 2 (index (2, 1))",),
        ),
        ({"x": np.ones(3), "y": np.array([1.0, np.inf, 0.0])}, ("y holds 1 NaN or infinite", "sample 1")),
        ({"x": np.float32(1.0), "y": np.ones(1)}, ("x is a scalar",)),
    ],
    ids=["lengths", "strings", "complex", "nan-x", "inf-y", "scalar"],
)
def test_bad_arrays_are_one_line_before_training(example, tmp_path, arrays, needles):
    w = with_data(example, source=npz(tmp_path, **arrays))
    with pytest.raises(ParityError) as exc:
        datasource.load(w)
    one_line(exc, "workload own-regression", *needles)


def test_a_missing_array_name_lists_the_ones_there(example, tmp_path):
    w = with_data(example, source=npz(tmp_path, feats=np.ones(3), y=np.ones(3)), x="features")
    with pytest.raises(ParityError) as exc:
        datasource.load(w)
    one_line(exc, "has no array 'features' (it has feats, y)", "Data(x=..., y=...)")


def test_a_missing_file_and_a_function_returning_one_array(example, tmp_path):
    with pytest.raises(ParityError) as exc:
        datasource.load(with_data(example, source=str(tmp_path / "nope.npz")))
    one_line(exc, "nope.npz does not exist")
    with pytest.raises(ParityError) as exc:
        datasource.load(with_data(example, source=lambda: np.ones(3)))
    one_line(exc, "returned a ndarray: return a pair (x, y)")


def test_own_data_refuses_data_and_normalize(example):
    ds = datasource.load(example)
    with pytest.raises(ParityError) as exc:
        datasource.load(example, "/tmp/mnist.npz")
    one_line(exc, "--data /tmp/mnist.npz", "names its own data", "drop --data")
    with pytest.raises(ParityError) as exc:
        data.window(ds, 0, 8, normalize=True, labels="given")
    one_line(exc, "--normalize scales MNIST's pixels", "drop --normalize")
    with pytest.raises(ParityError) as exc:
        data.window(ds, 500, 20, labels="given")
    one_line(exc, "(512 samples): use a start of at most 492")


# ---------------------------------------------------------------- the declaration


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"dataset": "anything"}, "data.dataset is 'anything': must be one of mnist, arrays"),
        ({"dataset": "arrays"}, "data.dataset 'arrays' needs data.source"),
        ({"dataset": "mnist", "source": "d.npz"}, "data.source names your own arrays, but data.dataset is 'mnist'"),
        ({"source": "d.npz", "labels": "binary"}, "data.labels is 'binary', but your own arrays' targets"),
        ({"source": "d.npz", "normalize": True}, "data.normalize scales MNIST's pixels"),
        ({"source": "mod:make", "x": "features"}, "data.x names an array in an .npz"),
        ({"source": "no_such_module_xyz:make"}, "data.source 'no_such_module_xyz:make'"),
        ({"source": "data.csv"}, "data.source 'data.csv' is not 'package.module:function'"),
        ({"source": "d.npz", "x": "a", "y": "a"}, "data.x and data.y both name the array 'a'"),
        ({"source": "d.npz", "shuffle": -1}, "data.shuffle is -1: give a seed"),
        ({"source": 3}, "data.source is 3: give an .npz path"),
        ({"shuffle": 1}, "data.shuffle applies to your own arrays"),
    ],
)
def test_a_data_declaration_that_does_not_fit_is_one_line_at_load(example, fields, needle):
    with pytest.raises(ParityError) as exc:
        with_data(example, **fields)
    one_line(exc, "workload 'own-regression'", needle)


def test_a_linear_head_does_not_take_mnist_labels(example):
    w = dataclasses.replace(example, data=Data(n=8))
    with pytest.raises(ParityError) as exc:
        check(w, "test")
    one_line(exc, "head linear does not fit labels binary")


def test_builtin_data_declarations_are_unchanged():
    assert Data() == Data(dataset="mnist", labels="binary")
    assert workloads.load("softmax-ce").data.labels == "onehot10"
    assert Data(source="d.npz").dataset == "arrays" and Data(source="d.npz").labels == "given"


# ---------------------------------------------------------------- the linear head


def test_linear_head_measures_only_what_means_something():
    z = np.array([[0.5], [2.0], [-1.0]])
    dz = np.array([[0.0], [np.nan], [1.0]])
    m = heads.measure(np, "linear", z, dz, np.zeros((3, 1)))
    assert m["correct"] == 0
    assert m["nonfinite_gradient"] == pytest.approx(1 / 3)
    for k in ("saturated_output", "saturated_logit", "dead_gradient", "dead_misclassified"):
        assert np.isnan(m[k]) and k in heads.ABSENT["linear"]
    assert heads.metric("linear") == "loss" and heads.metric("sigmoid") == "accuracy"
    np.testing.assert_array_equal(heads.probabilities(np, "linear", z), z)  # no activation
    # a regression output of shape (n,): the gradient's non-batch axes are none
    assert heads.measure(np, "linear", z[:, 0], np.array([np.inf, 0.0, 0.0]), z[:, 0])["nonfinite_gradient"] == (
        pytest.approx(1 / 3)
    )


def test_mse_and_huber_against_a_hand_computation():
    from paritybench.workloads.kit import losses

    z = np.array([[1.0, 2.0], [0.0, 0.0]], np.float32)
    y = np.array([[0.0, 0.0], [0.0, 1.0]], np.float32)
    # errors (1, 2) and (0, -1): squares (1, 4) and (0, 1), means 2.5 and 0.5
    np.testing.assert_allclose(np.asarray(losses.mse(z, y)), [2.5, 0.5])
    # Huber (delta 1): |e| <= 1 -> e^2/2, else |e| - 1/2: (0.5, 1.5) -> 1.0; (0, 0.5) -> 0.25
    np.testing.assert_allclose(np.asarray(losses.huber(z, y)), [1.0, 0.25])
    np.testing.assert_allclose(np.asarray(losses.mse(z[:, 0], y[:, 0])), [1.0, 0.0])  # (n,) targets


def test_a_linear_heads_run_records_the_loss_as_its_metric_and_the_absent_curves_with_reasons(example):
    steps = 2
    curves = {
        "loss": [1.0, 0.5, 0.25],
        "correct": [0, 0, 0],
        "accuracy": [0.0, 0.0, 0.0],
        "grad_norm": [1.0, 0.5],
        "nonfinite": [False] * 3,
        "eval_loss": [1.0, 0.6, 0.3],
        "eval_accuracy": [0.0, 0.0, 0.0],  # a holdout: the placeholder a classless head computes
        **{k: [float("nan")] * (steps + 1) for k in heads.PER_STEP},
    }
    final = {k: np.zeros(s, np.float32) for k, s in example.model.params.items()}
    result = runner.ArmResult(curves=curves, final_weights=final)
    e = runner._entry(example, example.arm("jax"), runner.Case(0, 0), 8, result)
    assert e["metric"] == "loss" and e["initial_accuracy"] is None and e["final_accuracy"] is None
    assert set(e["curves"]) == {"loss", "grad_norm", "nonfinite", "nonfinite_gradient", "eval_loss"}
    assert set(e["absent"]) == set(heads.ABSENT["linear"]) and "final_eval_accuracy" not in e
    assert all(e["absent"].values())


def test_the_run_table_shows_the_loss_for_a_linear_head():
    from rich.console import Console

    run = {
        "arm": "jax",
        "seed": 0,
        "window_start": 0,
        "status": "ok",
        "metric": "loss",
        "any_nonfinite": False,
        "final_weights_sha256": "ab" * 32,
        "curves": {"loss": [0.740886, 0.068391]},
    }
    artifact = {
        "config": {"n": 256, "steps": 1, "lr": 0.05, "normalize": False},
        "environment": {"data": {"source": "npz", "path": "/somewhere/d.npz", "sha256": "0123456789abcdef" * 4}},
        "runs": [run],
    }
    console = Console(record=True, width=200)
    report_table.print_run_table(console, artifact)
    text = console.export_text()
    assert "initial loss" in text and "0.740886" in text and "0.068391" in text
    assert "fwd" not in text and "accuracy = " not in text
    assert "metric = the loss" in text and "own data d.npz (sha256 0123456789ab)" in " ".join(text.split())


def test_the_report_names_own_data_by_its_source_and_sha256_where_mnist_says_pixels():
    """``data_words``: MNIST's pixels as the report always said them; own data by file or function and sha256."""
    from paritybench.analysis import report

    seed = json.loads((ROOT / "tests" / "data" / "run-seed0.json").read_text())
    assert report_table.data_words(seed) == "raw pixels"
    assert report_table.data_words({**seed, "config": {**seed["config"], "normalize": True}}) == "normalized pixels"
    sha = "fedcba9876543210" * 4
    for record, words in (
        ({"source": "npz", "path": "/a/b/data.npz", "sha256": sha}, "own data data.npz (sha256 fedcba987654)"),
        (
            {"source": "function", "path": "make:arrays()", "sha256": sha},
            "own data make:arrays() (sha256 fedcba987654)",
        ),
        ({"source": "npz"}, "own data"),
    ):
        own = {**seed, "environment": {**seed["environment"], "data": record}}
        assert report_table.data_words(own) == words
        answer = " ".join(report.answer_from_run(own))
        assert f"window 0, {words}, 10 steps" in answer and "pixels" not in answer, answer
    assert "window 0, raw pixels, 10 steps" in " ".join(report.answer_from_run(seed))


# ---------------------------------------------------------------- end to end


def test_the_own_regression_example_runs_localizes_compares_and_reports(tmp_path, api_run):
    out = tmp_path / "r.json"
    # the run in this process (api.run raises where an arm errors: the CLI's exit 1), the table it printed in .text
    text = api_run(EXAMPLE / "workload.py", out=out).text
    assert "initial loss" in text and "metric = the loss" in text
    a = json.loads(out.read_text())
    assert a["workload"]["head"] == "linear"
    assert a["environment"]["data"]["sha256"] == hashlib.sha256((EXAMPLE / "data.npz").read_bytes()).hexdigest()
    runs = {r["arm"]: r for r in a["runs"]}
    assert set(runs) == {"jax", "torch", "keras-tensorflow", "reference-f64"}
    ref = runs["reference-f64"]["final_loss"]
    for arm, r in runs.items():
        assert r["status"] == "ok" and r["metric"] == "loss", (arm, r.get("reason"))
        assert "accuracy" not in r["curves"] and "dead_gradient" not in r["curves"]
        assert r["curves"]["loss"][-1] < r["curves"]["loss"][0] / 2  # it trained
        assert abs(r["final_loss"] - ref) <= 1e-5 * ref  # float32 arms within rounding of the arbiter
    proc = run_cli("compare", str(out), str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = run_cli("report", str(out), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "**Metric: the loss**" in md and "`reference-f64` (float64) ends at loss" in md
    assert f"own data data.npz (sha256 {a['environment']['data']['sha256'][:12]})" in md and "pixels" not in md
    assert (tmp_path / "rep" / "loss.png").is_file()
    loc = tmp_path / "loc.json"
    proc = run_cli("localize", "--workload", str(EXAMPLE / "workload.py"), "--out", str(loc), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    record = json.loads(loc.read_text())
    assert record["workload"]["head"] == "linear" and len(record["pairs"]) == 3  # each arm against the arbiter
    proc = run_cli("conventions", "--workload", str(EXAMPLE / "workload.py"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "workload own-regression:" in proc.stdout and "settings differ across 4 arms" in proc.stdout


def user_folder(tmp_path: Path, module: str, body: str) -> Path:
    """The example's workload file in ``tmp_path`` with ``Data(source="<module>:make")``, and ``module`` beside it."""
    source = (EXAMPLE / "workload.py").read_text()
    old = 'Data(source="data.npz", x="features", y="targets", n=256)'
    assert old in source
    (tmp_path / "workload.py").write_text(source.replace(old, f'Data(source="{module}:make", n=64)'))
    (tmp_path / f"{module}.py").write_text(body)
    return tmp_path / "workload.py"


def test_a_data_function_in_a_module_beside_the_workload_file_loads(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.path", list(__import__("sys").path))  # the loader puts the folder first
    module = f"mydata_ok_{tmp_path.name.replace('-', '_')}"
    body = (
        "import numpy as np\n\n\ndef make():\n    return np.ones((64, 8), np.float32), np.zeros((64, 1), np.float32)\n"
    )
    w = workloads.load(str(user_folder(tmp_path, module, body)))
    ds = datasource.load(w)
    assert ds.record["function"] == f"{module}:make" and ds.x_train.shape == (64, 8)


def test_two_workload_folders_with_a_module_of_one_name_each_load_their_own(tmp_path, monkeypatch):
    # one process (a notebook, the pytest plugin, the worker pool) loading two users' folders that both hold a
    # sibling module "mydata_same": each workload's "mydata_same:make" must read its own folder's module, also when
    # the first is loaded again after the second
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    monkeypatch.delitem(__import__("sys").modules, "mydata_same", raising=False)  # and put back as it was after
    body = (
        "import numpy as np\n\n\ndef make():\n"
        "    return np.full((64, WIDTH), 1, np.float32), np.zeros((64, 1), np.float32)\n"
    )
    files = []
    for width in (8, 5):
        folder = tmp_path / f"user{width}"
        folder.mkdir()
        files.append(user_folder(folder, "mydata_same", body.replace("WIDTH", str(width))))
    for path, width in [(files[0], 8), (files[1], 5), (files[0], 8)]:
        ds = datasource.load(workloads.load(str(path)))
        assert ds.x_train.shape == (64, width), (path, ds.x_train.shape)


def test_a_data_module_that_raises_on_import_is_its_own_file_and_line(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    module = f"mydata_bad_{tmp_path.name.replace('-', '_')}"
    body = "import numpy as np\nTABLE = 1 / 0\n\n\ndef make():\n    return np.ones(3), np.ones(3)\n"
    w = workloads.load(str(user_folder(tmp_path, module, body)))
    with pytest.raises(ParityError) as exc:
        datasource.load(w)
    one_line(exc, "raised ZeroDivisionError at", f"{tmp_path / module}.py:2", "division by zero")


def test_a_data_module_is_imported_once_per_load_also_when_its_import_fails(tmp_path, monkeypatch):
    # the source is resolved once (for the cache key and the call): a module that fails to import is not left in
    # sys.modules, so resolving it twice would run its top level twice (and its side effects with it)
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    module = f"mydata_once_{tmp_path.name.replace('-', '_')}"
    count = tmp_path / "imports.txt"
    body = f"open({str(count)!r}, 'a').write('x')\nTABLE = 1 / 0\n\n\ndef make():\n    return None\n"
    w = workloads.load(str(user_folder(tmp_path, module, body)))
    with pytest.raises(ParityError) as exc:
        datasource.load(w)
    one_line(exc, "raised ZeroDivisionError at", f"{tmp_path / module}.py:2")
    assert count.read_text() == "x"


def test_a_module_beside_the_workload_that_raises_on_import_is_named_at_its_own_line(tmp_path, monkeypatch):
    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    module = f"mymodel_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{module}.py").write_text("X = 1\nY = 1 / 0\n")
    source = (
        (EXAMPLE / "workload.py")
        .read_text()
        .replace("import numpy as np\n", f"import numpy as np\nimport {module}\n", 1)
    )
    (tmp_path / "workload.py").write_text(source)
    with pytest.raises(ParityError) as exc:
        workloads.load(str(tmp_path / "workload.py"))
    one_line(exc, f"raised ZeroDivisionError at {tmp_path / module}.py:2")


def test_a_keras_output_that_does_not_fit_the_own_targets_is_refused(example):
    from types import SimpleNamespace

    from paritybench.arms.keras_worker import check_targets

    arm = example.arm("keras-tensorflow")
    check_targets(SimpleNamespace(output_shape=(None, 1)), np.zeros((4, 1)), example, arm)
    check_targets(SimpleNamespace(output_shape=(None, 1)), np.zeros(4), example, arm)  # Keras reconciles these
    with pytest.raises(ParityError) as exc:
        check_targets(SimpleNamespace(output_shape=(None, 2)), np.zeros((4, 1)), example, arm)
    one_line(exc, "arm keras-tensorflow", "output shape (None, 2)", "targets have shape (4, 1)")


@pytest.mark.parametrize(
    ("head", "y", "needle"),
    [
        ("sigmoid", np.zeros(4), "y has shape (4,)"),  # (n, k) labels are multi-label; (n,) is reshaped
        ("softmax", np.zeros(4), "give ids as integers"),  # integer (n,) targets are class ids; floats are not
        ("softmax", np.array([0, 2, -1, 1]), "-1 is negative"),
    ],
)
def test_targets_a_classifier_head_would_count_wrong_are_refused(example, tmp_path, head, y, needle):
    w = with_data(example, source=npz(tmp_path, x=np.ones((4, 2)), y=y))
    w = dataclasses.replace(w, model=dataclasses.replace(w.model, head=head))
    with pytest.raises(ParityError) as exc:
        datasource.load(w)
    one_line(exc, needle)


@pytest.mark.parametrize("given", [(6, 1), (6, 3, 1)])
def test_softmax_class_ids_with_a_trailing_axis_of_one_load_as_the_ids_without_it(example, tmp_path, given):
    """(n, 1) and (n, T, 1) integer ids, which Keras's sparse categorical cross-entropy squeezes itself, load as
    (n,) and (n, T): the form every arm trains on; the artifact's data record says the shape given, the sha256
    is the file's; another head on the same file keeps the shape (the cached arrays are not changed)."""
    y = np.arange(np.prod(given)).reshape(given) % 3
    w = with_data(example, source=npz(tmp_path, x=np.ones((6, 2)), y=y))
    soft = dataclasses.replace(w, model=dataclasses.replace(w.model, head="softmax"))
    ds = datasource.load(soft)
    assert ds.y_train.shape == given[:-1] and np.array_equal(ds.y_train, y[..., 0])
    rec = data.describe(ds)
    assert rec["y_shape"] == list(given[:-1]) and rec["y_squeezed_from"] == list(given)
    assert rec["sha256"] == hashlib.sha256((tmp_path / "d.npz").read_bytes()).hexdigest()
    linear = datasource.load(w)  # the linear head of the example: values of any shape, as given
    assert linear.y_train.shape == given and "y_squeezed_from" not in linear.record
    with pytest.raises(ParityError) as exc:  # the same ids as floats are no softmax target
        datasource.load(with_data(soft, source=npz(tmp_path, x=np.ones((6, 2)), y=y.astype(np.float32))))
    one_line(exc, "give ids as integers")


def test_classifier_targets_that_fit_their_head_load(example, tmp_path):
    for head, y in (
        ("sigmoid", np.zeros((4, 1))),
        ("sigmoid", np.zeros((4, 3))),  # multi-label: one 0/1 label per logit
        ("softmax", np.eye(3)[[0, 1, 2, 0]]),
        ("softmax", np.array([0, 1, 2, 0])),  # class ids
    ):
        w = with_data(example, source=npz(tmp_path, x=np.ones((4, 2)), y=y))
        assert (
            datasource.load(dataclasses.replace(w, model=dataclasses.replace(w.model, head=head))).y_train.shape
            == y.shape
        )
