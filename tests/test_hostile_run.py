"""Hostile cases for ``run`` (and the same checks in ``sweep``, ``sensitivity``, ``--repeat``): issue 9,
causes 1 (memory), 2 (non-finite numbers), 3 (outputs checked before training), 4 (weights and
JSON land together), 9 (two runs at once) and 12 (killed runs leave nothing behind).

Each CLI case asserts the exit status, that stderr holds exactly one ``paritybench: error:``
line and no traceback, and what is (not) left on disk. The CLI runs in a fresh process with
its working directory and TMPDIR in the test's own folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from paritybench import procs
from paritybench.artifact import safeout
from paritybench.errors import ParityError
from paritybench.experiment.config import RunConfig
from paritybench.experiment.weights import n_params
from paritybench.pipeline import budget
from paritybench.workloads.seed_bce.workload import PARAMS

SEED_PARAMS = n_params(PARAMS)  # the seed workload's 786,001 parameters

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["--arms", "jax-logits,reference-f64", "--steps", "2", "--n", "100"]


def cli(
    *args: str, cwd: Path, tmpdir: Path | None = None, timeout: int = 300, env: dict | None = None
) -> subprocess.CompletedProcess:
    full = {**os.environ, "PYTHONPATH": str(ROOT / "src"), **(env or {})}
    if tmpdir is not None:
        full["TMPDIR"] = str(tmpdir)
    return subprocess.run(
        [sys.executable, "-m", "paritybench", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=full
    )


def one_error(proc: subprocess.CompletedProcess, rc: int = 2, *fragments: str) -> str:
    """Assert exit status ``rc``, exactly one error line (with each fragment), no traceback."""
    assert proc.returncode == rc, (proc.returncode, proc.stderr[-3000:])
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("paritybench: error:")]
    assert len(lines) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for f in fragments:
        assert f in lines[0], lines[0]
    return lines[0]


def files_under(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# ---------------------------------------------------------------- cause 1: memory


def test_estimate_grows_with_what_is_held():
    base = RunConfig(arms=("jax-logits", "reference-f64"), steps=10, n=100)
    e = budget.estimate(base).total
    # full diagnostics keep every step's weights: roughly linear in steps
    e100 = budget.estimate(RunConfig(**{**base.__dict__, "steps": 100})).total
    assert e100 - e > 90 * 8 * SEED_PARAMS  # at least the float64 reference trajectory per extra step
    # light diagnostics keep none of that
    light = budget.estimate(RunConfig(**{**base.__dict__, "steps": 100, "diagnostics": "light"})).total
    assert light < e100 / 2
    # more seeds, more cases held
    seeds = budget.estimate(RunConfig(**{**base.__dict__, "seeds": tuple(range(20))})).total
    assert seeds > e + 19 * (4 * SEED_PARAMS) * 3
    # a sensitivity study's K copies
    k2 = budget.estimate(base, "sensitivity", cases=2, keep_trajectory=False, batched=2).total
    k200 = budget.estimate(base, "sensitivity", cases=200, keep_trajectory=False, batched=200).total
    assert k200 - k2 > 198 * (4 * SEED_PARAMS) * 4
    # a Keras arm adds a worker process
    assert budget.estimate(RunConfig(arms=("keras-jax",))).total > budget.KERAS_WORKER_OVERHEAD


def test_refusal_names_estimate_memory_and_fix():
    est = budget.estimate(RunConfig(arms=("jax-logits", "reference-f64"), steps=300, n=100), "run")
    with pytest.raises(ParityError) as err:
        budget.require_memory(est, available=2 * 2**30, fixes="use fewer --steps")
    msg = str(err.value)
    assert "would need about 6.4 GiB" in msg and "2.0 GiB available" in msg and "use fewer --steps" in msg
    assert "\n" not in msg
    budget.require_memory(est, available=64 * 2**30)  # fits: no error


def test_available_memory_is_read():
    avail, source = budget.available_memory()
    assert avail is not None and avail > 0 and source


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run", *SMALL, "--steps", "2000000"], "would need about"),
        (["run", *SMALL, "--steps", "1000000000"], "at most 10,000,000 steps"),
        (
            ["sweep", "--seeds", "0-100000", "--windows", "0", "--arms", "jax-logits", "--steps", "2"],
            "would need about",
        ),
        (["sensitivity", "--arms", "jax-logits", "--steps", "2", "--k", "1000000"], "use a smaller --k"),
    ],
)
def test_too_big_is_refused_before_anything(tmp_path, argv, fragment):
    proc = cli(*argv, cwd=tmp_path, tmpdir=tmp_path)
    one_error(proc, 2, fragment)
    assert files_under(tmp_path) == []  # no results folder, no checkpoint


# ---------------------------------------------------------------- cause 2: non-finite numbers


@pytest.mark.parametrize(
    "argv, flag",
    [
        (["run", *SMALL, "--lr", "inf"], "--lr inf"),
        (["run", *SMALL, "--lr", "nan"], "--lr nan"),
        (["run", *SMALL, "--lr=-inf"], "--lr -inf"),
        (["sensitivity", "--arms", "jax-logits", "--steps", "2", "--k", "2", "--lr", "inf"], "--lr inf"),
        (["sensitivity", "--arms", "jax-logits", "--steps", "2", "--k", "2", "--rel", "nan"], "--rel nan: give"),
        (
            ["sweep", "--arms", "jax-logits", "--steps", "2", "--seeds", "0", "--windows", "0", "--lr", "inf"],
            "--lr inf",
        ),
        (["run", *SMALL, "--repeat", "2", "--lr", "inf"], "--lr inf"),
    ],
)
def test_non_finite_options_refused(tmp_path, argv, flag):
    proc = cli(*argv, cwd=tmp_path, tmpdir=tmp_path)
    one_error(proc, 2, flag)
    assert files_under(tmp_path) == []


def test_diverging_run_records_nan_not_a_crash(tmp_path):
    """A finite --lr that blows training up is a result: the artifact holds "nan"/"inf" strings."""
    out = tmp_path / "big.json"
    proc = cli("run", *SMALL, "--lr", "1e30", "--out", str(out), cwd=tmp_path, tmpdir=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    art = json.loads(out.read_text())
    assert any(r.get("any_nonfinite") for r in art["runs"])
    assert out.with_suffix(".weights.npz").is_file()


# ---------------------------------------------------------------- cause 3: outputs checked first


@pytest.mark.parametrize(
    "command",
    [
        ["run", *SMALL],
        ["sweep", "--arms", "jax-logits", "--steps", "2", "--n", "100", "--seeds", "0", "--windows", "0"],
        ["sensitivity", "--arms", "jax-logits", "--steps", "2", "--n", "100", "--k", "2"],
    ],
)
def test_out_under_a_regular_file(tmp_path, command):
    (tmp_path / "afile").write_text("x")
    proc = cli(*command, "--out", str(tmp_path / "afile" / "r.json"), cwd=tmp_path, tmpdir=tmp_path)
    one_error(proc, 2, "is a file, not a folder")
    assert files_under(tmp_path) == ["afile"] and (tmp_path / "afile").read_text() == "x"


@pytest.mark.parametrize("where", ["/proc/r.json", "/proc/self/r.json", "/sys/r.json"])
def test_out_under_pseudo_fs(tmp_path, where):
    one_error(cli("run", *SMALL, "--out", where, cwd=tmp_path, tmpdir=tmp_path), 2, "pseudo file system")


def test_existing_weights_file_is_not_replaced(tmp_path):
    out = tmp_path / "r.json"
    out.with_suffix(".weights.npz").write_bytes(b"precious")
    one_error(cli("run", *SMALL, "--out", str(out), cwd=tmp_path, tmpdir=tmp_path), 2, "never overwritten")
    assert out.with_suffix(".weights.npz").read_bytes() == b"precious" and not out.exists()


def test_default_results_from_deleted_cwd(tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    # the child changes into the folder, then it is removed under it
    script = Path(sys.executable).parent / "paritybench"
    if not script.exists():
        pytest.skip(f"no paritybench console script beside {sys.executable}")
    # the shell changes into the folder and removes it; paritybench then starts there
    proc = subprocess.run(
        ["sh", "-c", 'cd "$1" && rmdir "$1" && shift && exec "$@"', "sh", str(gone), str(script), "run", *SMALL],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    one_error(proc, 2, "working directory no longer exists")
    assert files_under(tmp_path) == []


def test_repeat_obeys_output_checks(tmp_path):
    (tmp_path / "afile").write_text("x")
    proc = cli(
        "run", *SMALL, "--repeat", "2", "--out", str(tmp_path / "afile" / "r.json"), cwd=tmp_path, tmpdir=tmp_path
    )
    one_error(proc, 2, "is a file, not a folder")
    assert "repeat 1/2" not in proc.stdout  # nothing started
    assert files_under(tmp_path) == ["afile"]


@pytest.fixture
def mount_point(tmp_path):
    """A tmpfs mounted for the test (root with mount permission only); yields a mount helper."""
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root (CI runs the tests as root)")
    mounted: list[Path] = []

    def mount(name: str, options: str) -> Path:
        mp = tmp_path / name
        mp.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mp)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(mp)
        return mp

    yield mount
    for mp in mounted:
        subprocess.run(["umount", "-l", str(mp)], capture_output=True)


def test_out_on_read_only_mount(tmp_path, mount_point):
    ro = mount_point("ro", "ro,size=1m")
    proc = cli("run", *SMALL, "--out", str(ro / "sub" / "r.json"), cwd=tmp_path, tmpdir=tmp_path)
    one_error(proc, 2, "read-only file system")
    assert list(ro.iterdir()) == []


def test_default_results_from_read_only_cwd(tmp_path, mount_point):
    ro = mount_point("ro", "ro,size=1m")
    proc = cli("run", *SMALL, cwd=ro, tmpdir=tmp_path)
    one_error(proc, 2, "read-only file system")
    assert list(ro.iterdir()) == []


# ---------------------------------------------------------------- cause 4: both files or neither


def test_disk_too_small_for_weights_refused_before_training(tmp_path, mount_point):
    small = mount_point("small", "size=1m")
    proc = cli("run", *SMALL, "--out", str(small / "r.json"), cwd=tmp_path, tmpdir=tmp_path)
    one_error(proc, 2, "MiB free")
    assert list(small.iterdir()) == []


def test_disk_full_between_weights_and_json(tmp_path, mount_point):
    """Room for the weights npz (one arm: 3.15 MB) but not for the JSON after it: nothing is kept.

    commit_pair itself, on the small disk: since issue 21 the CLI refuses this disk before training
    (free space is checked for the JSON too), so a disk that fills up meanwhile is what is left to pin."""
    # tmpfs counts whole 4 KiB pages: the weights' page count and one page more, less than the JSON (2 pages)
    weights = 4 * SEED_PARAMS + 1190
    small = mount_point("small", f"size={4 * (-(-weights // 4096) + 1)}k")
    out = small / "r.json"
    art = _artifact()
    art["runs"][0]["info"] = {"padding": "x" * 6000}  # two pages of JSON at least
    with pytest.raises(ParityError, match="No space left on device.*nothing was kept"):
        safeout.commit_pair(
            out, art, lambda fh: fh.write(b"w" * weights), out.with_suffix(".weights.npz"), validate=False
        )
    assert list(small.iterdir()) == []  # no weights, no JSON, no temp file


def _artifact() -> dict:
    art = json.loads((ROOT / "tests" / "data" / "run-seed0.json").read_text())
    art["weights_file"] = "r.weights.npz"
    return art


def test_failure_after_weights_renamed_removes_them(tmp_path, monkeypatch):
    out = tmp_path / "r.json"

    def fail_on_json(tmp, final):
        if final == out:
            raise OSError(28, "No space left on device")

    monkeypatch.setattr(safeout, "_before_rename", fail_on_json)
    with pytest.raises(ParityError, match="nothing was kept"):
        safeout.commit_pair(out, _artifact(), lambda fh: fh.write(b"w" * 1000), out.with_suffix(".weights.npz"))
    assert files_under(tmp_path) == []


def test_unserialisable_artifact_writes_nothing(tmp_path):
    out = tmp_path / "r.json"
    art = _artifact()
    art["timing"]["total_seconds"] = float("inf")  # would be "Infinity": not JSON
    with pytest.raises(ValueError):
        safeout.commit_pair(out, art, lambda fh: fh.write(b"w"), out.with_suffix(".weights.npz"), validate=False)
    assert files_under(tmp_path) == []


def test_commit_pair_lands_both(tmp_path):
    out = tmp_path / "r.json"
    safeout.commit_pair(out, _artifact(), lambda fh: fh.write(b"w" * 10), out.with_suffix(".weights.npz"))
    assert files_under(tmp_path) == ["r.json", "r.weights.npz"]
    assert json.loads(out.read_text())["weights_file"] == "r.weights.npz"


# ---------------------------------------------------------------- cause 9: two runs at once


def test_default_name_includes_arms_seeds_windows():
    a = RunConfig(arms=("jax-logits",))
    assert safeout.config_tag(a) != safeout.config_tag(RunConfig(arms=("reference-f64",)))
    assert safeout.config_tag(a) != safeout.config_tag(RunConfig(arms=("jax-logits",), seeds=(1,)))
    assert safeout.config_tag(a) != safeout.config_tag(RunConfig(arms=("jax-logits",), windows=(1000,)))
    assert a.short_hash() == RunConfig(arms=("reference-f64",)).short_hash()  # the comparable hash is unchanged


def test_default_name_claimed_atomically(tmp_path):
    cfg = RunConfig(arms=("jax-logits",))
    first = safeout.OutputClaim.default(cfg, tmp_path / "runs")
    second = safeout.OutputClaim.default(cfg, tmp_path / "runs")
    assert first.path != second.path and first.path.parent == second.path.parent
    second.release(committed=False)
    first.release(committed=False)
    assert not (tmp_path / "runs").exists()  # folders made for runs that wrote nothing are removed


def test_explicit_out_being_written_is_refused(tmp_path):
    out = tmp_path / "r.json"
    held = safeout.OutputClaim.explicit(out)  # another paritybench is writing it
    try:
        proc = cli("run", *SMALL, "--out", str(out), cwd=tmp_path, tmpdir=tmp_path)
        one_error(proc, 2, "another paritybench is writing")
    finally:
        held.release(committed=False)
    assert files_under(tmp_path) == []


def test_claim_of_a_killed_run_does_not_block(tmp_path):
    out = tmp_path / "r.json"
    code = (
        "import sys, time; from pathlib import Path; from paritybench.artifact.safeout import OutputClaim; "
        f"c = OutputClaim.explicit(Path({str(out)!r})); print('held', flush=True); time.sleep(600)"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(ParityError, match="another paritybench is writing"):
        safeout.OutputClaim.explicit(out)
    holder.kill()
    holder.wait()
    assert files_under(tmp_path) == []  # the claim left nothing on disk, even killed
    claim = safeout.OutputClaim.explicit(out)  # and its death released it
    claim.release(committed=False)


def test_two_runs_started_together_keep_both(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(tmp_path)}
    procs_ = [
        subprocess.Popen(
            [sys.executable, "-m", "paritybench", "run", *SMALL],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs_]
    assert [p.returncode for p in procs_] == [0, 0], [o[1][-2000:] for o in outs]
    paths = [
        next(ln.split("artifact: ", 1)[1].strip() for ln in o[0].splitlines() if ln.startswith("artifact: "))
        for o in outs
    ]
    assert paths[0] != paths[1]
    for p in paths:
        assert Path(p).is_file() and Path(p).with_suffix(".weights.npz").is_file()
    assert sorted(p.name for p in (tmp_path / "results" / "runs").iterdir()) == sorted(
        [Path(p).name for p in paths] + [Path(p).with_suffix(".weights.npz").name for p in paths]
    )


# ---------------------------------------------------------------- cause 12: killed runs


def _children(pid: int) -> list[int]:
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    if int(fh.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    return out


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _wait_worker(proc: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for c in _children(proc.pid):
            if "paritybench.arms.keras_worker" in _cmdline(c):
                return c
        if proc.poll() is not None:
            raise AssertionError(f"run ended before its Keras worker started: {proc.stderr.read()[-2000:]}")
        time.sleep(0.05)
    raise AssertionError("no Keras worker appeared")


@pytest.mark.parametrize(
    "sig, rc, name", [(signal.SIGTERM, 143, "SIGTERM"), (signal.SIGINT, 130, "SIGINT"), (signal.SIGKILL, -9, None)]
)
def test_killed_run_leaves_no_worker_and_no_temp(tmp_path, sig, rc, name):
    if importlib_missing("keras"):
        pytest.skip("keras is not installed")
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    out = tmp_path / "out" / "r.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "TMPDIR": str(tmpdir)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "paritybench",
            "run",
            "--arms",
            "keras-jax",
            "--steps",
            "200",
            "--n",
            "100",
            "--out",
            str(out),
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    worker = _wait_worker(proc)
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("paritybench-")]  # its temp folder exists
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == rc, err[-3000:]
    if name:
        assert err.strip().splitlines()[-1] == f"paritybench: interrupted by {name}; no artifact was written"
        assert "Traceback" not in err
    deadline = time.monotonic() + 60
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(worker), f"worker {worker} still running: {_cmdline(worker)}"
    deadline = time.monotonic() + 30  # the orphaned worker removes the folder as it exits
    while [p for p in tmpdir.iterdir() if p.name.startswith("paritybench-")] and time.monotonic() < deadline:
        time.sleep(0.1)
    assert [p.name for p in tmpdir.iterdir() if p.name.startswith("paritybench-")] == []
    assert not out.exists() and not out.with_suffix(".weights.npz").exists()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []  # no partial or temporary files
    if name:  # an orderly exit also removes its claim and the folder it made
        assert not out.parent.exists()


def importlib_missing(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is None


def test_stale_temp_folders_of_dead_runs_are_cleaned(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)
    stale = tmp_path / f"paritybench-{pid}-abc"
    (stale / "keras-jax").mkdir(parents=True)
    live = tmp_path / f"paritybench-{os.getpid()}-xyz"
    live.mkdir()
    removed = procs.clean_stale_tmp(str(tmp_path))
    assert removed == [stale] and not stale.exists() and live.exists()
    shutil.rmtree(live)


# ---------------------------------------------------------------- issue 20: hostile workload files
# A user's workload file, written into the test's folder; each case turns one knob.

WORKLOAD_TEMPLATE = """
import numpy as np

from paritybench.workloads import Arm, Data, Model, Training, Workload

{prelude}

PARAMS = {{"dense_0/kernel": (784, {out}), "dense_0/bias": ({out},)}}


def init(seed, threefry_partitionable=False):
    rng = np.random.default_rng(seed)
    return {{
        "dense_0/kernel": rng.uniform(-0.05, 0.05, (784, {out})).astype(np.float32),
        "dense_0/bias": np.zeros(({out},), np.float32),
    }}


def jax_apply(params, x):
    {apply_body}
    return x @ params["dense_0/kernel"] + params["dense_0/bias"]


def keras_build(keras):
    model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense({out}, activation="{keras_act}")])
    layer = model.layers[-1]
    return model, {{"dense_0/kernel": layer.kernel, "dense_0/bias": layer.bias}}


def bce(z, y):
    import optax

    return optax.sigmoid_binary_cross_entropy(z, y)


def other_bce(z, y):
    import optax

    {loss_body}
    return optax.sigmoid_binary_cross_entropy(z, y)


def keras_bce(keras):
    return keras.losses.binary_crossentropy


WORKLOAD = Workload(
    name="hostile",
    version="1",
    question="Does a hostile workload stop the run the way it should?",
    sources=(),
    data=Data(dataset="{dataset}", labels="binary", n=100, normalize=True),
    training=Training(steps=2, lr=0.01),
    model=Model(params=PARAMS, head="sigmoid", init=init, jax_apply=jax_apply, keras_build=keras_build),
    arms=(
        Arm("jax-good", "plain", "jax", "bce", loss_fn=bce, requires=("jax", "optax")),
        Arm("jax-other", "its loss is the knob", "jax", "bce", loss_fn=other_bce, requires=("jax", "optax")),
        Arm.keras("jax", "the Keras arm", keras_bce),
        Arm("reference-f64", "float64", "f64", "bce", loss_fn=bce, requires=("jax", "optax")),
    ),
    fix="jax-good",
)
"""
MAIN_ARMS = ["--arms", "jax-good,jax-other,reference-f64"]


def workload_file(folder: Path, name: str = "wl.py", **knobs) -> Path:
    values = dict(prelude="", out=1, apply_body="pass", loss_body="pass", keras_act="sigmoid", dataset="mnist")
    path = folder / name
    path.write_text(WORKLOAD_TEMPLATE.format(**{**values, **knobs}))
    return path


@pytest.mark.parametrize("command", [["run"], ["sweep", "--seeds", "0", "--windows", "0"]], ids=["run", "sweep"])
def test_forward_pass_of_the_wrong_shape_is_refused_before_training(tmp_path, command):
    """Before anything is written: no artifact, and no sweep checkpoint either."""
    wl = workload_file(tmp_path, out=2)  # two logits for one binary label
    out = tmp_path / "r.json"
    proc = cli(*command, "--workload", str(wl), *MAIN_ARMS, "--out", str(out), cwd=tmp_path)
    one_error(proc, 2, "workload hostile", "arm jax-good", "(100, 2)", "the labels (100, 1)", "shape (100, 1)")
    assert files_under(tmp_path) == ["wl.py"]


def test_a_run_in_which_every_arm_errors_exits_1_and_writes_nothing(tmp_path):
    wl = workload_file(tmp_path, loss_body='raise RuntimeError("boom in the loss")')
    out = tmp_path / "r.json"
    proc = cli("run", "--workload", str(wl), "--arms", "jax-other", "--out", str(out), cwd=tmp_path)
    one_error(proc, 1, "no arm trained", "jax-other: RuntimeError: boom in the loss", "no artifact")
    assert files_under(tmp_path) == ["wl.py"]


def test_a_function_that_never_returns_makes_its_arm_an_error_and_the_run_exit_1(tmp_path):
    """A sleep in one arm's loss: the step limit ends it, the arm is ``error`` with the reason, the arms that
    trained keep their artifact, and the exit status says a run failed."""
    wl = workload_file(tmp_path, prelude="import time", loss_body="time.sleep(3600)")
    out = tmp_path / "r.json"
    t0 = time.monotonic()
    proc = cli("run", "--workload", str(wl), *MAIN_ARMS, "--step-timeout", "2", "--out", str(out), cwd=tmp_path)
    assert time.monotonic() - t0 < 600
    one_error(proc, 1, "1 of 3 runs failed (jax-other)", str(out))
    assert "paritybench: jax-other: 1 of 1 runs failed: TimeLimit" in proc.stderr
    art = json.loads(out.read_text())
    status = {r["arm"]: (r["status"], r.get("reason")) for r in art["runs"]}
    assert status["jax-good"][0] == status["reference-f64"][0] == "ok"
    assert status["jax-other"][0] == "error" and "did not return within 6 s" in status["jax-other"][1]
    assert art["config"]["step_timeout"] == 2.0
    assert files_under(tmp_path) == ["r.json", "r.weights.npz", "wl.py"]


@pytest.mark.parametrize(
    "knobs,fragment",
    [
        (dict(prelude="import time", apply_body="time.sleep(3600)"), "forward pass did not return within 2 s"),
        (dict(prelude="import time\ntime.sleep(3600)"), "importing it raised TimeLimit at"),
    ],
    ids=["forward-pass", "module-import"],
)
def test_code_that_never_returns_before_training_is_one_line(tmp_path, knobs, fragment):
    wl = workload_file(tmp_path, **knobs)
    proc = cli(
        "run", "--workload", str(wl), *MAIN_ARMS, "--step-timeout", "2", "--out", str(tmp_path / "r.json"), cwd=tmp_path
    )
    one_error(proc, 2, fragment)
    assert files_under(tmp_path) == ["wl.py"]


def test_a_workloads_own_exception_at_import_is_its_file_and_line(tmp_path):
    wl = workload_file(
        tmp_path, prelude='def broken():\n    raise ValueError("no such thing\\nsecond line")\n\n\nbroken()'
    )
    line = next(i for i, text in enumerate(wl.read_text().splitlines(), 1) if "raise ValueError" in text)
    proc = cli("run", "--workload", str(wl), *MAIN_ARMS, "--out", str(tmp_path / "r.json"), cwd=tmp_path)
    one_error(proc, 2, f"raised ValueError at {wl}:{line}: no such thing")
    assert "second line" not in proc.stderr and files_under(tmp_path) == ["wl.py"]


def test_a_workload_that_imports_jax_at_the_top_loads_after_the_flags(tmp_path):
    wl = workload_file(tmp_path, prelude="import jax  # a framework at the workload module's top level")
    out = tmp_path / "r.json"
    proc = cli("run", "--workload", str(wl), "--arms", "jax-good", "--no-weights", "--out", str(out), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env = json.loads(out.read_text())["environment"]
    assert env["warnings"] == []
    assert env["frameworks"]["main"]["jax_default_matmul_precision"] == "highest"


def test_keras_model_must_carry_the_declared_head_and_a_module_beside_the_file_loads_in_workers(tmp_path):
    """The workload imports a module beside it (its folder on the path, in the main process and the Keras
    worker alike); its Keras model ends in relu though its head is sigmoid: the Keras arm is refused at
    build, naming both, and the JAX arms' artifact is kept with exit 1."""
    (tmp_path / "helper_beside.py").write_text("HIDDEN = 1\n")
    wl = workload_file(tmp_path, prelude="import helper_beside  # a module beside the workload file", keras_act="relu")
    out = tmp_path / "r.json"
    arms = ["--arms", "jax-good,keras-jax,reference-f64", "--no-weights"]
    proc = cli("run", "--workload", str(wl), *arms, "--out", str(out), cwd=tmp_path, timeout=600)
    one_error(proc, 1, "1 of 3 runs failed (keras-jax)")
    reason = {r["arm"]: r.get("reason") for r in json.loads(out.read_text())["runs"]}["keras-jax"]
    assert "last layer 'dense' has activation relu, but the declared head is sigmoid" in reason, reason


def test_step_limit_interrupts_a_sleep_and_restores_the_timer():
    import signal as sig

    from paritybench import watchdog

    before = sig.getsignal(sig.SIGALRM)
    t0 = time.monotonic()
    with pytest.raises(watchdog.TimeLimit, match="the test's sleep did not return within 0.2 s"):
        with watchdog.limit(0.2, "the test's sleep"):
            time.sleep(30)
    assert time.monotonic() - t0 < 5
    assert sig.getsignal(sig.SIGALRM) is before and sig.getitimer(sig.ITIMER_REAL) == (0.0, 0.0)
    with watchdog.limit(5, "outer"):  # an inner limit that ends later leaves the outer one in charge
        with watchdog.limit(60, "inner"):
            pass
        assert 0 < sig.getitimer(sig.ITIMER_REAL)[0] <= 5
    assert sig.getitimer(sig.ITIMER_REAL) == (0.0, 0.0)
