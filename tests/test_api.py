"""The Python API (``paritybench.api``) and the pytest plugin (``paritybench.testing``, entry point ``pytest11``).

A call runs the command's own code: its artifact trains to the same bits as the CLI's for the same options, and
its errors are the CLI's lines. Training calls run in a fresh process (a script, as a notebook would), so that no
framework an earlier test imported in this process stands in the way of the numerics flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from paritybench import api
from paritybench.errors import ParityError
from paritybench.experiment import flags

from .conftest import ROOT, by_arm, run_cli

PAIR = ("--workload", "seed-bce", "--arms", "jax-naive,jax-logits,reference-f64", "--steps", "3")


def _fresh_env() -> dict[str, str]:
    """This environment without the numerics variables: an earlier test in this worker may have set them in
    os.environ (flags.apply in process), and a child that inherits them loads its frameworks with them, so the
    refusal these tests look for would not happen (it did not, in the fresh-clone CI run)."""
    return {k: v for k, v in os.environ.items() if k not in flags.NUMERICS_ENV_VARS}


def _python(code: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=600,
        env=_fresh_env(),
    )


def test_api_run_trains_what_the_cli_trains_and_localize_reads_the_result(tmp_path):
    cli_out = tmp_path / "cli.json"
    proc = run_cli("run", *PAIR, "--out", str(cli_out))
    assert proc.returncode == 0, proc.stderr[-2000:]
    # set_flags first, then a framework imported by the user's own code, then the calls: a notebook's order
    script = f"""
        import json
        from paritybench import api
        api.set_flags()
        import jax  # the user's own code imports a framework before the first call
        arms = ["jax-naive", "jax-logits", "reference-f64"]
        r = api.run("seed-bce", arms=arms, steps=3, out={str(tmp_path / "api.json")!r})
        import tempfile
        tempfile.tempdir = {str(tmp_path)!r}  # where a call without out= makes its new folder (not /tmp)
        found = api.localize(r, "jax-naive")
        cli = api.read_run({str(cli_out)!r})  # the CLI's artifact, read as a result
        print(json.dumps({{
            "artifact": str(r.artifact),
            "reference": r.reference,
            "rows": [[x.arm, x.status, x.final_accuracy, repr(x.final_loss)] for x in r.rows],
            "answer": r.answer,
            "first": [found.first.step, found.first.phase, found.first.tensor, found.first.ratio],
            "line": found.pairs[0].line,
            "record": str(found.record),
            "same_rows": repr(cli.rows) == repr(r.rows),
            "cli_workload": cli.workload,
        }}))
    """
    done = _python(script)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.strip().splitlines()[-1])
    cli, mine = (json.loads(p.read_text()) for p in (cli_out, tmp_path / "api.json"))
    assert got["artifact"] == str(tmp_path / "api.json")
    for arm, cli_run in by_arm(cli).items():  # the same training, to the bit
        assert by_arm(mine)[arm]["final_weights_sha256"] == cli_run["final_weights_sha256"]
        assert by_arm(mine)[arm]["final_accuracy"] == cli_run["final_accuracy"]
        assert by_arm(mine)[arm]["final_loss"] == cli_run["final_loss"]
    rows = {arm: (status, acc, loss) for arm, status, acc, loss in got["rows"]}
    logits = by_arm(cli)["jax-logits"]
    assert rows["jax-logits"] == ("ok", logits["final_accuracy"], repr(logits["final_loss"]))
    assert rows["jax-naive"][2] == "nan" and by_arm(cli)["jax-naive"]["final_loss"] == "nan"
    assert got["reference"] == "reference-f64"
    assert got["same_rows"] and got["cli_workload"] == "seed-bce"
    assert "`jax-naive` 0.510 fall short" in got["answer"][0]
    # flags set before the framework's import: nothing recorded as set too late
    assert not [w for w in mine["environment"]["warnings"] if w.startswith("flags:")]
    # localize from the result: its workload, steps and seed; the literal port parts at step 0 in the loss
    assert got["first"][:3] == [0, "loss", "value"] and got["first"][3] == float("inf")
    assert got["line"].startswith("jax-naive vs reference-f64: step 0, loss, value: non-finite")
    # without out=, the record is in a new folder of its own, the user's to keep (here under the test's tmp_path)
    assert Path(got["record"]).parent.parent == tmp_path
    assert Path(got["record"]).parent.name.startswith("paritybench-api-localize-")
    record = json.loads(open(got["record"]).read())
    assert record["steps"] == 3 and record["pairs"][0]["first"]["step"] == 0


def test_a_call_after_a_framework_loaded_without_the_flags_is_refused_naming_them():
    done = _python("""
        import os
        import jax  # loaded before paritybench set anything
        from paritybench import api
        from paritybench.errors import ParityError
        before = dict(os.environ)
        try:
            api.run("seed-bce", arms="jax-logits", steps=1)
        except ParityError as exc:
            print("refused:", exc)
        print("environment unchanged:", dict(os.environ) == before)
    """)
    assert done.returncode == 0, done.stderr[-2000:]
    refused = done.stdout.splitlines()[0]
    assert refused.startswith("refused: run: jax was imported in this process before paritybench set its numerics")
    assert "JAX_DEFAULT_MATMUL_PRECISION" in refused and "XLA_FLAGS" in refused and "set_flags()" in refused
    assert "environment unchanged: True" in done.stdout  # refused before anything was set


@pytest.mark.parametrize(
    ("cli", "call"),
    [
        (("run", "--workload", "no-such-workload"), lambda: api.run("no-such-workload")),
        (("run", "--arms", "no-such-arm"), lambda: api.run("seed-bce", arms="no-such-arm")),
        (
            ("localize", "--arms", "no-such-arm,reference-f64"),
            lambda: api.localize("seed-bce", "no-such-arm", "reference-f64"),
        ),
        (("run", "--steps", "0"), lambda: api.run("seed-bce", steps=0)),
    ],
)
def test_a_bad_call_is_the_cli_error_line(cli, call, monkeypatch, tmp_path):
    proc = run_cli(*cli)
    assert proc.returncode == 2
    line = proc.stderr.strip().splitlines()[-1]
    # as in a fresh process: no framework loaded; the flags the call sets are undone afterwards
    monkeypatch.setattr(flags, "loaded_frameworks", lambda: [])
    monkeypatch.setattr(flags, "_BEFORE_FRAMEWORKS", flags._BEFORE_FRAMEWORKS)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where the call's own temporary folder goes
    saved = dict(os.environ)
    try:
        with pytest.raises(ParityError) as exc:
            call()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    assert line == f"paritybench: error: {exc.value}"
    assert list(tmp_path.iterdir()) == []  # the folder made for the artifact is gone with the failed call


def test_flags_not_in_effect_names_what_differs_from_the_values_the_frameworks_loaded_with(monkeypatch):
    monkeypatch.setattr(flags, "loaded_frameworks", lambda: [])
    assert flags.not_in_effect(flags.NumericsOptions()) == []  # nothing loaded: everything takes effect
    monkeypatch.setattr(flags, "loaded_frameworks", lambda: ["jax"])
    loaded_with = {k: flags.env_for(flags.NumericsOptions()).get(k) for k in flags.NUMERICS_ENV_VARS}
    monkeypatch.setattr(flags, "_BEFORE_FRAMEWORKS", loaded_with)  # set_flags() ran before the import
    assert flags.not_in_effect(flags.NumericsOptions()) == []
    # one thread needs XLA_FLAGS and thread counts the loaded JAX did not start with
    missing = flags.not_in_effect(flags.NumericsOptions(threads=1))
    assert "XLA_FLAGS" in missing and "OMP_NUM_THREADS" in missing and "PYTHONHASHSEED" not in missing
    with pytest.raises(ParityError, match=r"^localize: jax was imported .* XLA_FLAGS"):
        api.localize("seed-bce", "jax-logits", threads=1)


def test_a_workload_object_must_be_one_the_workers_can_load_again():
    from dataclasses import replace

    from paritybench import workloads

    w = workloads.load("seed-bce")
    assert api._workload_spec(w) == "seed-bce"
    with pytest.raises(ParityError, match="must be the one paritybench.workloads.load returned"):
        api._workload_spec(replace(w, arms=w.arms[:2]))


def test_the_plugin_runs_a_projects_parity_tests(tmp_path):
    """`pytest examples/test_own_parity.py` in a fresh process, with no conftest: the plugin is found by its
    entry point; the faithful port passes, the literal port fails (xfail strict) with the first parting."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "examples/test_own_parity.py",
            "-p",
            "no:cacheprovider",
            "-rx",
            "--xfail-tb",
            "--trace-config",
            f"--basetemp={tmp_path / 'base'}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert "PLUGIN registered: <module 'paritybench.testing'" in proc.stdout
    assert "1 passed, 1 xfailed" in proc.stdout
    # the xfail's message is localize's line: the literal port parts at step 0, in the loss phase
    assert "AssertionError: jax-naive vs reference-f64: step 0, loss, value: non-finite" in proc.stdout


def test_the_plugins_ini_option_sets_the_flags_before_a_projects_test_module_imports_jax(tmp_path):
    """A project whose test module imports JAX at collection: its parity test is refused, naming the flags and the
    ini option; with ``paritybench_set_flags = true`` the flags are set before collection and the test passes."""
    (tmp_path / "test_mine.py").write_text(
        "import jax  # noqa: F401  the project's own code, imported at collection\n"
        "from paritybench.testing import assert_trains_like\n\n\n"
        "def test_port():\n"
        "    assert_trains_like('seed-bce', 'jax-logits', steps=1)\n"
    )

    # the test calls assert_trains_like without out=: localize's record goes to a new temporary folder, the
    # user's to keep; TMPDIR puts it (and pytest's own) under this test's tmp_path, not /tmp
    tmp = tmp_path / "tmp"
    tmp.mkdir()

    def pytest_(*extra: str) -> subprocess.CompletedProcess:
        argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *extra, "test_mine.py"]
        env = {**_fresh_env(), "TMPDIR": str(tmp)}
        return subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)

    refused = pytest_()
    assert refused.returncode == 1 and "1 failed" in refused.stdout
    assert "jax was imported in this process before paritybench set its numerics flags" in refused.stdout
    assert "paritybench_set_flags = true" in refused.stdout
    passed = pytest_("-o", "paritybench_set_flags=true")
    assert passed.returncode == 0 and "1 passed" in passed.stdout, passed.stdout[-3000:]
    assert len(list(tmp.glob("paritybench-api-localize-*/localize.json"))) == 1


def test_a_localize_record_of_a_pair_gone_non_finite_is_json():
    """``localize --out`` (and so every api.localize) wrote a pair whose free-running trajectory went NaN
    (seed-bce's jax-naive) with ValueError: NaN distances are written as artifacts write them."""
    from paritybench.pipeline.localize import Check, PairResult, growth

    nan = float("nan")
    pair = PairResult("jax-naive", "reference-f64", first=Check(0, "loss", "value", float("inf"), nonfinite=True))
    pair.growth = growth([0.0, nan, nan], 1)
    record = json.loads(json.dumps(pair.to_dict(), allow_nan=False))  # what commit_pair writes
    assert record["growth"]["distance"] == [0.0, "nan", "nan"]
    assert record["first"]["ratio"] is None and record["line"].startswith("jax-naive vs reference-f64: step 0, loss")
