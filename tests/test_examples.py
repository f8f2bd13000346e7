"""The examples run as their comments say.

The batch-system examples run `paritybench sweep --shard I/N` with I over every index, once: each example's shell
is executed (sh / bash) with a stand-in `paritybench` first on PATH that prints its arguments, so what is checked
is the command line the scheduler would run. `examples/own_lstm/` (a user's Keras LSTM over MNIST rows and its torch
port) runs through run, compare, report, localize and conventions; `examples/own_models/`'s `jax-step` arm trains by the
user's own jitted train step.
"""

import importlib.util
import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from paritybench.cli import build_parser

from .conftest import ROOT, need_torch, run_cli

EXAMPLES = ROOT / "examples"


def _fake_paritybench(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "paritybench"
    fake.write_text('#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\n')
    fake.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}


def _check_lines(rendered: list[list[str]], count: int) -> None:
    assert [a[:2] + [a[2]] for a in rendered] == [["sweep", "--shard", f"{i}/{count}"] for i in range(count)]
    parser = build_parser()
    outs = set()
    for argv in rendered:
        args = parser.parse_args(argv)
        assert args.command == "sweep" and args.resume is None
        outs.add(args.out)
    assert len(outs) == count  # each shard its own artifact


def test_k8s_indexed_job_runs_each_shard_once(tmp_path):
    job = YAML(typ="safe").load((EXAMPLES / "k8s-indexed-job.yaml").read_text())
    spec = job["spec"]
    assert job["kind"] == "Job" and spec["completionMode"] == "Indexed"
    count = spec["completions"]
    (container,) = spec["template"]["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert int(env["SHARDS"]) == count
    env_run = _fake_paritybench(tmp_path)
    rendered = []
    for i in range(count):
        proc = subprocess.run(
            [*container["command"], *container["args"]],
            capture_output=True,
            text=True,
            env={**env_run, **env, "JOB_COMPLETION_INDEX": str(i)},
            cwd=tmp_path,
            timeout=30,
        )
        assert proc.returncode == 0, proc.stderr
        rendered.append(proc.stdout.splitlines())
    _check_lines(rendered, count)


def test_slurm_array_runs_each_shard_once(tmp_path):
    script = EXAMPLES / "slurm-array.sh"
    text = script.read_text()
    lo, hi = map(int, re.search(r"^#SBATCH --array=(\d+)-(\d+)$", text, re.M).groups())
    count = int(re.search(r"^SHARDS=(\d+)$", text, re.M).group(1))
    assert (lo, hi) == (0, count - 1)
    env_run = _fake_paritybench(tmp_path)
    rendered = []
    for i in range(count):
        proc = subprocess.run(
            ["bash", str(script)],
            capture_output=True,
            text=True,
            timeout=30,
            cwd=tmp_path,
            env={**env_run, "SLURM_ARRAY_TASK_ID": str(i)},
        )
        assert proc.returncode == 0, proc.stderr
        rendered.append(proc.stdout.splitlines())
    _check_lines(rendered, count)
    # a requeued task whose checkpoint exists resumes instead of starting over
    (tmp_path / "results" / "shards" / "sweep-shard-1.json.partial.jsonl").write_text("{}\n")
    proc = subprocess.run(
        ["bash", str(script)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=tmp_path,
        env={**env_run, "SLURM_ARRAY_TASK_ID": "1"},
    )
    assert proc.stdout.split() == shlex.split("sweep --resume results/shards/sweep-shard-1.json")


def test_own_lstm_maps_keras_to_torch_and_localizes_the_literal_port_at_the_lstm(tmp_path):
    need_torch()  # its torch arms need the extra (CI installs it: .ci/run)
    workload = str(EXAMPLES / "own_lstm" / "workload.py")
    out = tmp_path / "lstm.json"
    proc = run_cli("run", "--workload", workload, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # the mapping tables, printed: torch's bias_hh is zero in the port, Keras's bias in the literal one
    table = " ".join(proc.stderr.split())
    assert "rnn/bias (64,) rnn.bias_ih_l0 (64,) identity - - rnn.bias_hh_l0 (64,) zeros" in table
    assert "rnn/bias (64,) rnn.bias_hh_l0 (64,) identity (override)" in table
    a = json.loads(out.read_text())
    # MNIST rows: the bundled slice's first images as sequences of 28 rows, the digits as class ids
    recorded = a["environment"]["data"]
    assert recorded["source"] == "function" and recorded["function"] == "data:load", recorded
    assert (recorded["x_shape"], recorded["y_shape"], recorded["y_dtype"]) == ([512, 28, 28], [512], "int64")
    maps = a["workload"]["weight_maps"]
    assert [r["transform"] for r in maps["torch"]["rows"]] == [
        "transpose",
        "transpose",
        "identity",
        "zeros",
        "transpose",
        "identity",
    ]
    assert [r["by"] for r in maps["torch-literal"]["rows"]][3] == "override"
    keras_rows = a["environment"]["frameworks"]["keras-tensorflow"]["weight_maps"]["keras-tensorflow"]["rows"]
    assert {r["target"]["layer_type"] for r in keras_rows} == {"lstm", "dense"}
    runs = {r["arm"]: r for r in a["runs"]}
    assert set(runs) == {"jax", "keras-tensorflow", "torch", "torch-literal", "reference-f64"}
    ref = runs["reference-f64"]["final_loss"]
    for arm, r in runs.items():
        assert r["status"] == "ok", (arm, r.get("reason"))
        assert r["curves"]["loss"][-1] < 0.9 * r["curves"]["loss"][0], arm  # it trained
    for arm in ("jax", "keras-tensorflow", "torch"):
        assert abs(runs[arm]["final_loss"] - ref) <= 1e-5 * ref, arm  # float32 arms within rounding of the arbiter
    # the literal port's forget gate gets its bias twice (1 + 1 at Keras's unit_forget_bias): another model
    assert abs(runs["torch-literal"]["curves"]["loss"][0] - runs["torch"]["curves"]["loss"][0]) > 5e-5
    assert abs(runs["torch-literal"]["final_loss"] - runs["torch"]["final_loss"]) > 1e-2
    for argv in (("compare", str(out), str(out)), ("report", str(out), "--out", str(tmp_path / "rep"))):
        proc = run_cli(*argv, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = run_cli(
        "localize", "--workload", workload, "--arms", "torch,torch-literal", "--out", str(tmp_path / "l.json")
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "torch vs torch-literal: step 0, forward, rnn:" in " ".join(proc.stdout.split())
    proc = run_cli("conventions", "--workload", workload, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "workload own-lstm:" in proc.stdout


def test_own_models_trains_by_the_users_jitted_step_and_refuses_a_step_that_returns_the_wrong_things(tmp_path):
    """`examples/own_models/`'s `jax-step` arm is the user's own `@jax.jit` train step (jax_model.py): the same bits
    as paritybench's step of the same apply, loss and optax optimizer; a step that returns the wrong things is a
    one-line error naming its file and line before training; one that trains on another target is reported."""
    folder = EXAMPLES / "own_models"
    assert len((folder / "workload.py").read_text().splitlines()) <= 15  # the pairing file stays this short
    out = tmp_path / "step.json"
    arms = ("--arms", "jax,jax-step,reference-f64")
    proc = run_cli("run", "--workload", str(folder / "workload.py"), *arms, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "train step:" not in proc.stdout
    runs = {r["arm"]: r for r in json.loads(out.read_text())["runs"]}
    assert runs["jax-step"]["final_weights_sha256"] == runs["jax"]["final_weights_sha256"]
    assert runs["jax-step"]["curves"]["loss"] == runs["jax"]["curves"]["loss"]
    assert runs["jax-step"]["curves"]["loss"][-1] < 0.5 * runs["jax-step"]["curves"]["loss"][0]  # it trained
    step = runs["jax-step"]["info"]["user_step"]
    assert step["agrees"] and step["step"] == "jax_model:train_step" and len(step["loss"]) == 20
    proc = run_cli(
        "localize", "--workload", str(folder / "workload.py"), "--arms", "jax-step,reference-f64",
        "--out", str(tmp_path / "l.json"), cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "jax-step vs reference-f64: never part" in " ".join(proc.stdout.split())

    def variant(name: str, old: str, new: str):
        copy = tmp_path / name
        copy.mkdir()
        for f in folder.glob("*.py"):
            text = f.read_text()
            (copy / f.name).write_text(text.replace(old, new) if f.name == "jax_model.py" else text)
        assert new in (copy / "jax_model.py").read_text()
        res = tmp_path / f"{name}.json"
        return run_cli("run", "--workload", str(copy / "workload.py"), *arms, "--out", str(res), cwd=tmp_path), res

    returned = "return optax.apply_updates(params, updates), opt_state, value"
    proc, res = variant("two", returned, "return optax.apply_updates(params, updates), opt_state")
    assert proc.returncode != 0 and not res.exists()
    err = proc.stderr.strip().splitlines()[-1]
    assert err.startswith("paritybench: error: ") and "step jax_model:train_step (" in err, err
    assert "jax_model.py:30) returns a 2-tuple: return (params, opt_state, loss)" in err, err
    proc, res = variant("target", "loss(apply(p, x), y)", "loss(apply(p, x), 2.0 * y)")
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = " ".join(proc.stdout.split())
    assert "train step: arm jax-step: your step jax_model:train_step returned the loss" in line, line
    assert not json.loads(res.read_text())["runs"][1]["info"]["user_step"]["agrees"]
    proc = run_cli("report", str(res), "--out", str(tmp_path / "rep"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    written = " ".join(f.read_text() for f in (tmp_path / "rep").rglob("*.md"))
    assert "**Your train step**: arm jax-step: your step jax_model:train_step returned the loss" in written


def _torch_and_keras_example(tmp_path, folder: str, framework: str, chosen: str) -> tuple[str, Path, dict]:
    """An example pairing a torch module and a Keras factory the user already has (no paritybench import in them,
    a workload of at most 15 lines), run: (workload path, artifact path, artifact). Its arbiter is the
    ``framework`` model in float64 (``chosen``: how own_workload's reference named it); every arm's dtype is read
    back in conventions."""
    need_torch()  # its torch arm needs the extra (CI installs it: .ci/run)
    example = EXAMPLES / folder
    assert len((example / "workload.py").read_text().splitlines()) <= 15
    for user_file in ("torch_model.py", "keras_model.py", "data.py"):  # the user's code, as the user has it
        text = (example / user_file).read_text()
        assert "import paritybench" not in text and "from paritybench" not in text, user_file
    workload = str(example / "workload.py")
    out = tmp_path / f"{folder}.json"
    proc = run_cli("run", "--workload", workload, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = json.loads(out.read_text())
    assert a["reference_arm"] == "reference-f64"
    assert a["workload"]["arbiter"] == {
        "arm": "reference-f64",
        "framework": framework,
        "dtype": "float64",
        "chosen": chosen,
    }
    conv = a["conventions"]["arms"]
    assert (conv["reference-f64"]["dtype"], conv["torch"]["dtype"], conv["keras-tensorflow"]["dtype"]) == (
        "float64",
        "float32",
        "float32",
    )
    return workload, out, a


def test_own_torch_keras_runs_with_the_torch_module_in_float64_as_the_arbiter(tmp_path):
    workload, out, a = _torch_and_keras_example(tmp_path, "own_torch_keras", "torch", "auto")
    conv = a["conventions"]["arms"]
    assert conv["reference-f64"]["forward pass"] == conv["torch"]["forward pass"] == "torch_model:build"
    runs = {r["arm"]: r for r in a["runs"]}
    assert set(runs) == {"keras-tensorflow", "torch", "reference-f64"}
    ref = runs["reference-f64"]
    for arm, r in runs.items():
        assert r["status"] == "ok", (arm, r.get("reason"))
        assert r["curves"]["loss"][-1] < 0.6 * r["curves"]["loss"][0], arm  # it trained
        # every arm starts from the torch module's own initial weights: the same loss at step 0
        assert abs(r["curves"]["loss"][0] - ref["curves"]["loss"][0]) <= 1e-6 * ref["curves"]["loss"][0], arm
    for arm in ("keras-tensorflow", "torch"):  # float32 arms within float32 rounding of the float64 arbiter
        assert 0 < abs(runs[arm]["final_loss"] - ref["final_loss"]) <= 1e-5 * ref["final_loss"], arm
    for argv in (("compare", str(out), str(out)), ("report", str(out), "--out", str(tmp_path / "rep"))):
        proc = run_cli(*argv, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = run_cli("localize", "--workload", workload, "--out", str(tmp_path / "l.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    # the floor is the torch arm's own program in float32 against the same in float64 (the torch arm IS that
    # program, so its ratio is 1 at every tensor); the Keras arm implements the same conventions: below the factor
    assert "torch vs reference-f64: never part (largest ratio to the noise floor 1," in text
    assert "keras-tensorflow vs reference-f64: never part" in text
    pairs = {(p["a"], p["b"]): p for p in json.loads((tmp_path / "l.json").read_text())["pairs"]}
    forward = {c["tensor"] for c in pairs[("torch", "reference-f64")]["checks"] if c["phase"] == "forward"}
    assert forward == {"0", "2", "logits"}  # the torch module's own layers, in float32 and float64


def test_own_keras_only_runs_and_localizes_with_the_keras_model_in_float64_as_the_arbiter(tmp_path):
    workload, out, a = _torch_and_keras_example(tmp_path, "own_keras_only", "keras", "keras")
    conv = a["conventions"]["arms"]
    assert (
        conv["reference-f64"]["forward pass"] == conv["keras-tensorflow"]["forward pass"] == "keras_model:build_model"
    )
    # the declared weights onto the arbiter's float64 Keras model: one to one, by layer order and role
    rows = a["workload"]["weight_maps"]["reference-f64"]["rows"]
    assert [(r["sources"][0]["name"], r["target"]["role"], r["transform"]) for r in rows] == [
        ("dense_0/kernel", "kernel", "identity"),
        ("dense_0/bias", "bias", "identity"),
        ("dense_1/kernel", "kernel", "identity"),
        ("dense_1/bias", "bias", "identity"),
    ]
    assert {r["target"]["dtype"] for r in rows} == {"float64"}
    runs = {r["arm"]: r for r in a["runs"]}
    assert set(runs) == {"keras-tensorflow", "torch", "reference-f64"}
    ref = runs["reference-f64"]
    for arm, r in runs.items():
        assert r["status"] == "ok", (arm, r.get("reason"))
        assert r["curves"]["loss"][-1] < 0.6 * r["curves"]["loss"][0], arm  # it trained
        # every arm starts from the Keras model's own initial weights: the same loss at step 0
        assert abs(r["curves"]["loss"][0] - ref["curves"]["loss"][0]) <= 1e-6 * ref["curves"]["loss"][0], arm
    for arm in ("keras-tensorflow", "torch"):  # float32 arms within float32 rounding of the float64 arbiter
        assert 0 < abs(runs[arm]["final_loss"] - ref["final_loss"]) <= 1e-5 * ref["final_loss"], arm
    for argv in (
        ("compare", str(out), str(out)),
        ("report", str(out), "--out", str(tmp_path / "rep")),
        ("conventions", "--workload", workload),
    ):
        proc = run_cli(*argv, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = run_cli("localize", "--workload", workload, "--steps", "5", "--out", str(tmp_path / "l.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())
    # the floor is the Keras model on Keras-JAX in float32 against the same in float64; the Keras and torch arms
    # implement the same conventions: below the factor
    assert "keras-tensorflow vs reference-f64: never part" in text and "torch vs reference-f64: never part" in text


def _make_data(folder: str):
    spec = importlib.util.spec_from_file_location(f"{folder}_make_data", EXAMPLES / folder / "make_data.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("folder", "x", "y"), [("own_multilabel", "features", "labels"), ("own_tagging", "tokens", "tags")]
)
def test_the_committed_example_data_is_what_its_generator_writes(folder, x, y):
    import numpy as np

    want_x, want_y = _make_data(folder).make()
    with np.load(EXAMPLES / folder / "data.npz") as d:
        for name, want in ((x, want_x), (y, want_y)):
            assert d[name].dtype == want.dtype and np.array_equal(d[name], want), name


def _run_localize_report(tmp_path, folder: str) -> tuple[dict, str]:
    """``run`` (every arm ok), ``compare`` and ``report`` on the example, then ``localize``: (artifact, report.md)."""
    need_torch()  # its torch arm needs the extra (CI installs it: .ci/run)
    workload = str(EXAMPLES / folder / "workload.py")
    out = tmp_path / "run.json"
    proc = run_cli("run", "--workload", workload, "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    a = json.loads(out.read_text())
    for argv in (("compare", str(out), str(out)), ("report", str(out), "--out", str(tmp_path / "rep"))):
        proc = run_cli(*argv, cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    proc = run_cli("localize", "--workload", workload, "--out", str(tmp_path / "l.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    # every port of the example is faithful: no pair parts from the float64 arbiter
    for pair in ("jax", "keras-tensorflow", "torch"):
        assert f"{pair} vs reference-f64: never part" in " ".join(proc.stdout.split()), proc.stdout[-3000:]
    return a, (tmp_path / "rep" / "report.md").read_text()


def _same_counts(a: dict, scored: int) -> dict:
    """Every arm ok and trained, every arm's ``correct`` the arbiter's at every step, and accuracy = correct /
    ``scored``; returns the runs by arm."""
    runs = {r["arm"]: r for r in a["runs"]}
    assert set(runs) == {"jax", "keras-tensorflow", "torch", "reference-f64"}
    ref = runs["reference-f64"]["curves"]["correct"]
    assert ref[-1] > ref[0]  # it learned
    for arm, r in runs.items():
        assert r["status"] == "ok", (arm, r.get("reason"))
        c = r["curves"]
        assert c["correct"] == ref, arm  # the Keras arm's count is Keras's own accuracy metric x scored
        assert c["accuracy"] == [k / scored for k in c["correct"]], arm
        assert max(c["correct"]) <= scored and "absent" not in r
        for k in ("saturated_output", "saturated_logit", "dead_gradient", "dead_misclassified"):
            assert len(c[k]) == len(c["correct"]), (arm, k)
    return runs


def test_own_multilabel_counts_labels_in_every_arm_and_localizes_no_parting(tmp_path):
    a, report = _run_localize_report(tmp_path, "own_multilabel")
    n = a["config"]["n"]
    runs = _same_counts(a, n * 4)  # 4 labels per sample: accuracy is the share of right labels
    assert runs["reference-f64"]["final_accuracy"] > 0.6
    assert "within one label of `reference-f64`" in report and "share of labels with exactly zero" in report


def test_own_tagging_counts_tokens_in_every_arm_and_localizes_no_parting(tmp_path):
    a, report = _run_localize_report(tmp_path, "own_tagging")
    n = a["config"]["n"]
    assert a["environment"]["data"]["y_dtype"] == "int64" and a["environment"]["data"]["y_shape"] == [512, 8]
    runs = _same_counts(a, n * 8)  # 8 tokens per sequence: accuracy is the share of tokens tagged right
    assert runs["reference-f64"]["final_accuracy"] > 0.8
    assert "within one position of `reference-f64`" in report


def test_float_tags_for_a_sequence_softmax_are_refused_before_training_in_one_line(tmp_path):
    """own_tagging's data with its integer tags as floats: they fit no softmax target form for logits (n, 8, 5)
    (one-hot would be (n, 8, 5); ids are integers), so run stops before training with one line and no artifact."""
    import shutil

    folder = tmp_path / "tagging"
    shutil.copytree(EXAMPLES / "own_tagging", folder)
    (folder / "floats.py").write_text(
        "import numpy as np\n\n\ndef load():\n"
        "    d = np.load(__file__.replace('floats.py', 'data.npz'))\n"
        "    return d['tokens'], d['tags'].astype(np.float32)\n"
    )
    text = (folder / "workload.py").read_text()
    text = text.replace('Data(source="data.npz", x="tokens", y="tags", n=256)', 'Data(source="floats:load", n=256)')
    assert "floats:load" in text
    (folder / "workload.py").write_text(text)
    out = tmp_path / "run.json"
    proc = run_cli("run", "--workload", str(folder / "workload.py"), "--out", str(out), cwd=tmp_path)
    assert proc.returncode != 0 and not out.exists()
    err = [line for line in proc.stderr.splitlines() if line.startswith("paritybench: error:")]
    assert len(err) == 1 and "floating targets are one-hot class scores" in err[0], proc.stderr[-2000:]
    assert "y.astype('int32')" in err[0]


def _softmax_classifier(folder, ids: str) -> None:
    """own_multilabel's folder turned into a one-class-per-sample softmax classifier on its own data: the Keras
    model ends in a softmax compiled with sparse categorical cross-entropy, the torch loss is
    ``nn.CrossEntropyLoss()`` and the JAX loss optax's integer-label cross-entropy, each as a user writes it; the
    class of a sample is the argmax of its four labels' row, given by ``ids`` (``"(n,)"`` or ``"(n, 1)"``)."""
    import shutil

    shutil.copytree(EXAMPLES / "own_multilabel", folder)
    edits = {
        "keras_model.py": [
            ('activation="sigmoid"', 'activation="softmax"'),
            ('loss="binary_crossentropy"', 'loss="sparse_categorical_crossentropy"'),
        ],
        "torch_model.py": [("bce = nn.BCEWithLogitsLoss()", "bce = nn.CrossEntropyLoss()")],
        "jax_model.py": [("optax.sigmoid_binary_cross_entropy", "optax.softmax_cross_entropy_with_integer_labels")],
        "workload.py": [
            ('head="sigmoid"', 'head="softmax"'),
            ('Data(source="data.npz", x="features", y="labels", n=256)', 'Data(source="ids:load", n=256)'),
        ],
    }
    for name, pairs in edits.items():
        text = (folder / name).read_text()
        for old, new in pairs:
            assert old in text, (name, old)
            text = text.replace(old, new)
        (folder / name).write_text(text)
    shape = {"(n,)": "", "(n, 1)": "[:, None]"}[ids]
    (folder / "ids.py").write_text(
        "import numpy as np\n\n\ndef load():\n"
        "    d = np.load(__file__.replace('ids.py', 'data.npz'))\n"
        f"    return d['features'], np.argmax(d['labels'] * [1, 2, 3, 4], axis=1).astype(np.int64){shape}\n"
    )


@pytest.mark.parametrize("layout", ["per-sample", "per-position"])
def test_ids_with_a_trailing_axis_of_one_train_exactly_as_the_ids_without_it(tmp_path, layout):
    """Class ids as (n, 1) (one per sample) or (n, T, 1) (one per token), which Keras's sparse categorical
    cross-entropy takes (it squeezes the axis), train in every arm kind, bit for bit, as the same ids given as (n,)
    or (n, T): the same loss and count curves and the same final weights; the artifact records the shape given."""
    need_torch()
    runs = {}
    for squeezed in (True, False):
        folder = tmp_path / f"{layout}-{squeezed}"
        if layout == "per-sample":
            _softmax_classifier(folder, "(n,)" if squeezed else "(n, 1)")
        else:
            import shutil

            shutil.copytree(EXAMPLES / "own_tagging", folder)
            (folder / "ids.py").write_text(
                "import numpy as np\n\n\ndef load():\n"
                "    d = np.load(__file__.replace('ids.py', 'data.npz'))\n"
                f"    return d['tokens'], d['tags']{'' if squeezed else '[..., None]'}\n"
            )
            text = (folder / "workload.py").read_text()
            old = 'Data(source="data.npz", x="tokens", y="tags", n=256)'
            assert old in text
            (folder / "workload.py").write_text(text.replace(old, 'Data(source="ids:load", n=256)'))
        out = tmp_path / f"{layout}-{squeezed}.json"
        proc = run_cli("run", "--workload", str(folder / "workload.py"), "--out", str(out), cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        runs[squeezed] = json.loads(out.read_text())
    given, plain = runs[False], runs[True]
    d = given["environment"]["data"]
    assert d["y_squeezed_from"] == ([512, 1] if layout == "per-sample" else [512, 8, 1])
    assert d["y_shape"] == plain["environment"]["data"]["y_shape"] == d["y_squeezed_from"][:-1]
    assert "y_squeezed_from" not in plain["environment"]["data"]
    by_arm = {r["arm"]: r for r in plain["runs"]}
    assert set(by_arm) == {"jax", "keras-tensorflow", "torch", "reference-f64"}
    for r in given["runs"]:
        p = by_arm[r["arm"]]
        assert r["status"] == p["status"] == "ok", (r["arm"], r.get("reason"))
        for curve in ("loss", "correct", "accuracy", "dead_gradient"):
            assert r["curves"][curve] == p["curves"][curve], (r["arm"], curve)
        assert r["final_weights_sha256"] == p["final_weights_sha256"], r["arm"]
    assert by_arm["reference-f64"]["curves"]["correct"][-1] > by_arm["reference-f64"]["curves"]["correct"][0]


def test_class_ids_past_the_last_class_are_refused_before_training_in_one_line(tmp_path):
    """own_tagging's tags as (n, 8, 1) with one tag moved past the model's 5 classes: run stops before training
    with one line naming the id and the range, and writes no artifact (optax's integer-label cross-entropy would
    give NaN for it, Keras on JAX a zero loss: ``heads.problem``)."""
    import shutil

    folder = tmp_path / "tagging"
    shutil.copytree(EXAMPLES / "own_tagging", folder)
    (folder / "ids.py").write_text(
        "import numpy as np\n\n\ndef load():\n"
        "    d = np.load(__file__.replace('ids.py', 'data.npz'))\n"
        "    tags = d['tags'].copy()\n"
        "    tags[3, 2] = 7\n"
        "    return d['tokens'], tags[..., None]\n"
    )
    text = (folder / "workload.py").read_text()
    old = 'Data(source="data.npz", x="tokens", y="tags", n=256)'
    assert old in text
    (folder / "workload.py").write_text(text.replace(old, 'Data(source="ids:load", n=256)'))
    out = tmp_path / "run.json"
    proc = run_cli("run", "--workload", str(folder / "workload.py"), "--out", str(out), cwd=tmp_path)
    assert proc.returncode != 0 and not out.exists()
    err = [line for line in proc.stderr.splitlines() if line.startswith("paritybench: error:")]
    assert len(err) == 1 and "class id 7 is out of range" in err[0], proc.stderr[-2000:]
    assert "give ids 0..4" in err[0]
