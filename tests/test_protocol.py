"""The Keras worker protocol (arms/protocol.py): typed messages, checked strictly, on a channel of their own;
the one worker start-up (arms/worker_process.start)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

from paritybench.arms import protocol as p
from paritybench.arms import worker_process
from paritybench.experiment.flags import NumericsOptions

from .conftest import ROOT

# A pipe left open to a dead worker is flushed again when garbage-collected: any such unraisable exception fails.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")

CASE = p.CaseSpec(id="s0-w0", window=0, init_file="/j/init-s0-w0.npz")
TASK = p.Task(
    workload="seed-bce",
    arm="keras-jax",
    steps=2,
    lr=0.01,
    n=128,
    normalize=False,
    cases=(CASE,),
    workload_sha256="ab" * 32,
)
EXAMPLES = [
    p.TrainJob("jax", {"deterministic": True, "onednn": None, "threads": None}, None, None, "/j", True, (TASK,), 300.0),
    p.Evaluate(
        (p.EvaluateItem("seed-bce", 0.01, 128, False, 0, "jax-logits", "s0-w0", "/j/e.npz", "keras-jax", None),)
    ),
    p.ConventionsJob("seed-bce", "keras-jax", 0.01),
    p.LocalizeJob(
        "batchnorm-momentum",
        "keras-jax",
        0.01,
        3,
        0,
        64,
        True,
        "/d.npz",
        "ab" * 32,
        "/i.npz",
        "/o",
        ((0, 32), (32, 64), (0, 32)),
        "/h.npy",
        None,
        "/s.npz",
    ),  # fmt: skip
    p.Stop(),
    p.CaseDone("keras-jax", "s0-w0", {"loss": [0.5, float("nan")], "nonfinite": None}, {"x": 1.5}, "/f", None, None),
    p.Trained(),
    p.JobDone({"backend": "jax", "numerics": {"a": "b"}}, (p.SwapResult("jax-logits", "s0-w0", "keras-jax", 97),)),
    p.ConventionsDone({"loss": "keras.losses.BinaryCrossentropy", "optimizer.learning_rate": 0.01}),
    p.LocalizeDone("/o/arrays.npz"),
    p.Failed("ValueError", "bad input"),
]


def test_every_message_type_has_an_example_here():
    assert sorted(type(m).TYPE for m in EXAMPLES) == sorted(p.MESSAGES)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: type(m).TYPE)
def test_every_message_round_trips_through_one_json_line(msg):
    line = p.encode(msg)
    assert "\n" not in line and json.loads(line, parse_constant=float)["type"] == type(msg).TYPE
    back = p.decode(line)
    assert type(back) is type(msg)
    if isinstance(msg, p.CaseDone):  # NaN != NaN: compare the curves apart
        assert math.isnan(back.curves["loss"][1]) and back.curves["loss"][0] == 0.5
        assert back.info == msg.info and back.final_file == msg.final_file
    else:
        assert back == msg
    assert type(back).__dataclass_params__.frozen


def _line(msg, **change) -> str:
    obj = json.loads(p.encode(msg))
    obj.update(change)
    return json.dumps(obj)


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"type": "case", "file": "/x"}', "unknown message type 'case'"),
        ('{"kind": "trained"}', "unknown message type None"),
        ("PB-EVENT {}", "not a JSON message"),
        ("[1, 2]", "a message is a JSON object, not list"),
        ('{"type": "trained", "extra": 1}', "trained: unknown field(s) extra; Trained has no fields"),
        ('{"type": "failed", "error": "E"}', "failed: missing field(s) message"),
        ('{"type": "failed", "error": 3, "message": "m"}', "failed.error: expected str, got int 3"),
        ('{"type": "localize_done", "arrays_file": null}', "localize_done.arrays_file: expected str, got null"),
        ('{"type": "conventions_done", "rows": [1]}', "conventions_done.rows: expected an object, got list"),
    ],
)
def test_a_message_that_does_not_match_its_declaration_is_refused(line, message):
    with pytest.raises(p.ProtocolError) as e:
        p.decode(line)
    assert message in str(e.value)


def test_nested_fields_are_checked_and_named_by_their_path():
    job = EXAMPLES[0]
    obj = json.loads(p.encode(job))
    obj["tasks"][0]["cases"][0]["window"] = True  # a JSON true is not an integer
    with pytest.raises(p.ProtocolError, match=r"train_job\.tasks\[0\]\.cases\[0\]\.window: expected int, got bool"):
        p.decode(json.dumps(obj))
    obj = json.loads(p.encode(job))
    obj["tasks"][0]["cases"][0]["seed"] = 0
    with pytest.raises(p.ProtocolError, match=r"train_job\.tasks\[0\]\.cases\[0\]: unknown field\(s\) seed"):
        p.decode(json.dumps(obj))
    with pytest.raises(p.ProtocolError, match=r"train_job\.tasks: expected an array, got dict"):
        p.decode(_line(job, tasks={}))
    with pytest.raises(p.ProtocolError, match=r"train_job\.keep_trajectory: expected bool, got int 1"):
        p.decode(_line(job, keep_trajectory=1))
    loc = EXAMPLES[3]
    with pytest.raises(p.ProtocolError, match=r"localize_job\.slices\[1\]: expected 2 items, got 3"):
        p.decode(_line(loc, slices=[[0, 32], [32, 64, 1]]))
    assert p.decode(_line(loc, slices=None)).slices is None


def test_only_protocol_messages_are_encoded():
    with pytest.raises(p.ProtocolError, match="CaseSpec is not a worker protocol message"):
        p.encode(CASE)


def test_the_protocol_module_imports_no_framework():
    code = (
        "import sys; import paritybench.arms.protocol, paritybench.arms.worker_process, "
        "paritybench.pipeline.worker_pool; "
        "print(sorted(m for m in ('jax', 'tensorflow', 'torch', 'keras') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_a_worker_refuses_a_message_it_does_not_take_and_reports_failed(tmp_path):
    """The real start-up (no framework is imported before the first job): the inspection worker sent ``Stop``
    instead of a job reports ``Failed`` on its channel, exits with status 3, and its traceback is in its log."""
    opts = NumericsOptions().to_dict()
    wp = worker_process.start("keras_inspect", "jax", opts, tmp_path, tmp_path / "worker.log")
    try:
        assert wp.send(p.Stop(), close=True)
        assert list(wp.events(until=p.ConventionsDone)) == []
        rc = wp.wait()
    finally:
        wp.stop()
    assert rc == p.FAILED_STATUS
    assert wp.failure == p.Failed("ProtocolError", "an inspection worker takes a conventions or localize job, not stop")
    assert wp.why(rc, "keras-jax worker") == (
        "keras-jax worker exited with status 3: ProtocolError: "
        "an inspection worker takes a conventions or localize job, not stop"
    )
    assert "Traceback" in (tmp_path / "worker.log").read_text()


def _fake_worker(tmp_path, code: str) -> worker_process.WorkerProcess:
    """A process speaking (or not) the protocol on the report pipe whose number is its argv[1]."""
    cmd_r, cmd_w = os.pipe()
    rep_r, rep_w = os.pipe()
    log = tmp_path / "fake.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), str(rep_w)],
            stdin=subprocess.DEVNULL,
            stdout=fh,
            stderr=subprocess.STDOUT,
            pass_fds=(cmd_r, rep_w),
            start_new_session=True,
        )
    os.close(cmd_r)
    os.close(rep_w)
    return worker_process.WorkerProcess(proc, rep_r, cmd_w, log)


def test_a_message_the_parent_cannot_read_stops_the_worker_with_a_reason(tmp_path):
    wp = _fake_worker(
        tmp_path,
        """
        import os, sys, time
        out = os.fdopen(int(sys.argv[1]), "w")
        out.write('{"type": "trained"}\\n')
        out.write('{"type": "case_done", "arm": "keras-jax"}\\n')
        out.flush()
        time.sleep(60)  # killed by the parent long before
        """,
    )
    try:
        got = list(wp.events(until=p.JobDone))
        rc = wp.wait()
    finally:
        wp.stop()
    assert got == [p.Trained()]
    assert rc == -9  # killed at once, not left to sleep
    why = wp.why(rc, "keras-jax worker")
    assert why.startswith("keras-jax worker sent a message paritybench cannot read: case_done: missing field(s) ")
    assert "curves" in why


def test_a_worker_that_exits_0_without_its_result_is_named(tmp_path):
    wp = _fake_worker(tmp_path, "print('PB-EVENT {\"kind\": \"done\"}'); print('last words')")
    try:
        assert list(wp.events(until=p.JobDone)) == []
        rc = wp.wait()
    finally:
        wp.stop()
    assert rc == 0
    assert wp.why(rc, "keras-jax worker") == (
        "keras-jax worker exited with status 0 before sending its result (its last output: last words)"
    )


# ---------------------------------------------------------------- a user's prints never break a run (issue 20)

NOISY = """
import sys
from dataclasses import replace

from paritybench.workloads.seed_bce import keras_model
from paritybench.workloads.seed_bce.workload import WORKLOAD as _W

JUNK = [
    'PB-EVENT {"kind": "trained"}',
    'PB-EVENT {"kind": "case", "arm": "keras-jax", "id": "s0-w0", "file": "/nonexistent.json"}',
    'PB-EVENT {"kind": "done"}',
    "PB-EVENT not json at all",
    '{"type": "trained"}',
    '{"type": "job_done", "environment": {}, "swap": []}',
    "x" * 100000,
]
print(*JUNK, sep="\\n")  # at import: in the main process and in the worker


def build(keras, **options):
    print(*JUNK, sep="\\n", flush=True)
    print("PB-ERROR ValueError: printed by the user, not an error", file=sys.stderr, flush=True)
    sys.stdout.write("and no newline at the end")
    sys.stdout.flush()
    return keras_model.build(keras, **options)


WORKLOAD = replace(_W, name="noisy-bce", model=replace(_W.model, keras_build=build))
"""


def _cfg(workload: str, arms: tuple[str, ...]):
    from paritybench.experiment.config import RunConfig

    return RunConfig(workload=workload, arms=arms, steps=2, n=128, diagnostics="full")


@pytest.mark.slow
def test_a_workload_that_prints_protocol_lines_trains_as_a_quiet_one(tmp_path):
    """Pinned (issue 20): a Keras model whose code prints the old ``PB-EVENT`` lines, lines that look like the new
    protocol, a 100 kB line and a PB-ERROR on stderr runs to completion: its Keras arm's final weights are the
    quiet workload's, bit for bit, and its emulation still reproduces it."""
    from paritybench.pipeline import runner

    noisy = tmp_path / "noisy.py"
    noisy.write_text(NOISY)
    out = runner.run(_cfg(str(noisy), ("keras-jax", "jax-keras-clip")))
    quiet = runner.run(_cfg("seed-bce", ("keras-jax",)))
    runs = {r["arm"]: r for r in out.runs}
    assert {a: r["status"] for a, r in runs.items()} == {"keras-jax": "ok", "jax-keras-clip": "ok"}
    (q,) = [r for r in quiet.runs if r["arm"] == "keras-jax"]
    assert runs["keras-jax"]["final_weights_sha256"] == q["final_weights_sha256"]
    assert runs["keras-jax"]["curves"]["loss"] == q["curves"]["loss"]
    assert [m["reproduced"] for m in out.mechanism] == [True]


@pytest.mark.slow
def test_a_keras_worker_that_exits_0_before_its_result_errors_its_arms(tmp_path):
    """Pinned (issue 20): user code that ends the worker with status 0 (``sys.exit(0)`` in the model's builder)
    makes the Keras arm ``error`` with a reason that says so; the main process's arms are unaffected."""
    from paritybench.pipeline import runner

    quits = tmp_path / "quits.py"
    quits.write_text(
        textwrap.dedent("""
        import sys
        from dataclasses import replace
        from paritybench.workloads.seed_bce.workload import WORKLOAD as _W

        def build(keras, **options):
            print("leaving now")
            sys.exit(0)

        WORKLOAD = replace(_W, name="quits-bce", model=replace(_W.model, keras_build=build))
        """)
    )
    out = runner.run(_cfg(str(quits), ("keras-jax", "jax-keras-clip")))
    runs = {r["arm"]: r for r in out.runs}
    assert runs["jax-keras-clip"]["status"] == "ok"
    assert runs["keras-jax"]["status"] == "error"
    assert runs["keras-jax"]["reason"] == (
        "keras-jax worker exited with status 0 before sending its result (its last output: leaving now)"
    )


def test_a_keras_worker_refuses_a_workload_whose_content_changed_since_the_run_loaded_it(tmp_path, monkeypatch):
    """The run sends the workload's sha256 with each task and swap item; the worker loads the workload again and
    refuses other content in one line naming both hashes (a file edited between the two loads)."""
    import hashlib
    import shutil

    from paritybench.arms.keras_worker import load_workload
    from paritybench.errors import ParityError
    from paritybench.workloads import registry

    wl = tmp_path / "wl.py"
    shutil.copy(ROOT / "examples" / "tanh_adam.py", wl)
    sent = hashlib.sha256(wl.read_bytes()).hexdigest()
    assert load_workload(str(wl), sent).origin["sha256"] == sent
    assert load_workload(str(wl), None).name == "tanh-adam"  # a run that recorded no hash: nothing to check
    wl.write_text(wl.read_text().replace("version=", "# edited after the run began\n    version=", 1))
    now = hashlib.sha256(wl.read_bytes()).hexdigest()
    monkeypatch.setattr(registry, "_CACHE", {})  # as a fresh worker process loads it
    with pytest.raises(ParityError) as info:
        load_workload(str(wl), sent)
    msg = str(info.value)
    assert "changed after the run began" in msg and sent in msg and now in msg and "\n" not in msg
