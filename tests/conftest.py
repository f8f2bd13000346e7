"""Shared fixtures, the two tiers and the parallel groups.

Tiers (markers, pyproject.toml): ``e2e`` tests start a process (the CLI, a Keras worker, a
script), use a fixture that does, or are marked ``slow`` or ``docker``; every other test is
``fast``. `make test-fast` runs the fast tier alone; `make test` runs both. The tier is read from
the test's code when the suite is collected (``_starts_a_process``), so a new test lands in its
tier without a list to keep; a ``fast`` test that starts a Python process anyway (through library
code the scan cannot see) fails, with a message naming ``E2E_IN_PROCESS``.

Parallel runs (pytest-xdist, ``make test`` uses ``-n 2 --dist loadfile``): every test of a file runs
on the same worker, so module-scoped fixtures train once and the Docker tests (tests/test_docker.py)
and the Ray tests (tests/test_ray.py) never run twice at once. The trained artifacts that several files read
(``seed_run``) are trained once per session, whatever the number of workers, under a file lock.

In-process runs (``api_run``): a test whose subject is what a run trains, not the CLI process, calls
``paritybench.api.run`` in the pytest process instead of starting ``python -m paritybench``: the process imports
JAX and torch once, not once per run, and its runs share one ``api.session()`` of Keras workers (one per backend
and numerics, kept for the session) instead of starting and importing fresh ones each time. The numerics flags of
a default run are set before the test modules import any framework (below: set when this file loads, and the
environment given back once the tests are collected, so the processes the tests start inherit what they did
before); tests that run with other flags, or whose subject is the CLI itself (its exit status, output, signals,
the files a killed process leaves), stay ``run_cli`` tests.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from filelock import FileLock

from paritybench.experiment import flags

ROOT = Path(__file__).resolve().parents[1]

# A default run's numerics flags, set before the test modules import JAX, TensorFlow or torch: the in-process runs
# (``api_run``) are refused where a framework was loaded with other values (``api._check_flags``). The environment
# as it was is given back when collection ends (``pytest_collection_finish``), so the processes tests start
# inherit what they did before.
_ENVIRONMENT = dict(os.environ)
if not flags.loaded_frameworks():
    flags.apply(flags.NumericsOptions())


def pytest_collection_finish(session: pytest.Session) -> None:
    os.environ.clear()
    os.environ.update(_ENVIRONMENT)


# A test (or a helper or fixture of the test suite it reaches) that names one of these starts a process.
_PROCESS = re.compile(r"\b(subprocess|Popen|run_cli|os\.fork|multiprocessing)\b|\bcli\(")

# Tests that start processes through the library (the Keras worker pool, the runner's workers) in
# the test's own process: the source scan cannot see those. Paths relative to the repository.
E2E_IN_PROCESS = (
    "tests/test_worker_pool.py",
    "tests/test_protocol.py::test_a_worker_refuses_a_message_it_does_not_take_and_reports_failed",
    "tests/test_localize_stateful.py::test_keras_worker_steps_the_batch_from_the_given_moving_statistics",
    "tests/test_localize_stateful.py::test_literal_port_parts_from_keras_in_the_moving_mean_and_evaluation_only",
    "tests/test_torch_arms.py::test_run_records_torch_arm_mechanism_conventions_and_numerics",
)
# Fixtures that start processes in the test's own process: a test that uses one is e2e.
E2E_FIXTURES = ("api_session", "api_run")


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 900, env: dict | None = None):
    """Run ``python -m paritybench ARGS`` in a fresh process (flags are set at import)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "paritybench", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def _shared_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this session sees (the session's base temp without xdist)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def trained_once(tmp_path_factory: pytest.TempPathFactory, name: str, *args: str) -> tuple[Path, str]:
    """Run ``paritybench ARGS --out <shared>/NAME/NAME.json`` once per session, across xdist workers.

    Returns the artifact's path and the run's stdout. Tests read it; a test that changes files copies
    them to its own ``tmp_path`` first. A failed run fails every test that asks for it, with its stderr.
    """
    shared = _shared_dir(tmp_path_factory)
    folder, out = shared / name, shared / name / f"{name}.json"
    with FileLock(str(shared / f"{name}.lock")):
        failed, stdout = folder / "FAILED", folder / "stdout.txt"
        if not folder.exists():
            folder.mkdir()
            proc = run_cli(*args, "--out", str(out))
            if proc.returncode != 0:
                failed.write_text(f"exit {proc.returncode}: {proc.stderr[-3000:]}")
            stdout.write_text(proc.stdout)  # last: its presence says the run ended
        if failed.exists():
            pytest.fail(f"paritybench {' '.join(args)} failed: {failed.read_text()}", pytrace=False)
        if not stdout.exists():
            pytest.fail(f"paritybench {' '.join(args)} was interrupted in another test worker", pytrace=False)
        return out, stdout.read_text()


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory):
    """The seed preset (seed 0, window 0, every arm), run as a user would; trained once per session."""
    out, stdout = trained_once(tmp_path_factory, "seed", "run")
    from paritybench.experiment.weights import load_weights_npz

    artifact = json.loads(out.read_text())
    weights = load_weights_npz(out.with_suffix(".weights.npz"))
    return {"path": out, "artifact": artifact, "weights": weights, "stdout": stdout}


@pytest.fixture(scope="session")
def api_session():
    """One ``api.session()`` for the pytest process: the Keras workers its in-process runs share (``api_run``)."""
    from paritybench import api

    with api.session() as pool:
        yield pool


@pytest.fixture(scope="session")
def api_run(api_session):
    """``paritybench.api.run`` in this process, on the session's Keras workers (its arguments are ``api.run``'s).
    The numerics variables the call sets in os.environ are taken back afterwards: a process a later test starts
    inherits the environment it did before."""
    from paritybench import api

    def call(*args, **kwargs) -> api.RunResult:
        saved = dict(os.environ)
        try:
            return api.run(*args, **kwargs)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    return call


def by_arm(artifact: dict) -> dict[str, dict]:
    return {r["arm"]: r for r in artifact["runs"]}


# ------------------------------------------------------------------------------------------ tiers


def _code_names(code) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):
            names |= _code_names(const)
    return names


def _starts_a_process(fn, seen: set[int]) -> bool:
    """Whether ``fn`` or a function of the test suite it names starts a process (read from source)."""
    fn = inspect.unwrap(fn)
    if id(fn) in seen or not inspect.isfunction(fn):
        return False
    seen.add(id(fn))
    try:
        source = inspect.getsource(fn)
    except (OSError, TypeError):
        return False
    if _PROCESS.search(source):
        return True
    names = _code_names(fn.__code__)
    return any(
        _starts_a_process(obj, seen)
        for obj in (fn.__globals__.get(n) for n in names)
        if inspect.isfunction(obj) and obj.__module__.startswith("tests")
    )


def _is_e2e(item: pytest.Item) -> bool:
    if item.get_closest_marker("docker") or item.get_closest_marker("slow"):
        return True
    if any(item.nodeid.startswith(p) for p in E2E_IN_PROCESS) or set(E2E_FIXTURES) & set(item.fixturenames):
        return True
    seen: set[int] = {id(inspect.unwrap(_fast_tests_start_no_python))}  # the guard names subprocess, starts nothing
    if _starts_a_process(getattr(item, "function", None), seen):
        return True
    defs = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    return any(_starts_a_process(d.func, seen) for name in item.fixturenames for d in defs.get(name, ()))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e if _is_e2e(item) else pytest.mark.fast)


@pytest.fixture(autouse=True)
def _fast_tests_start_no_python(request, monkeypatch):
    """A ``fast`` test that starts a Python process (a worker, the CLI) fails and says where it belongs."""
    if not request.node.get_closest_marker("fast"):
        yield
        return
    original = subprocess.Popen._execute_child

    def guarded(self, args, executable, *rest, **kw):
        argv = [args] if isinstance(args, str | bytes | os.PathLike) else list(args)
        if argv and os.fspath(executable or argv[0]) == sys.executable:
            raise RuntimeError(
                f"{request.node.nodeid} is in the fast tier but starts a Python process ({argv[:4]}): "
                "add it to E2E_IN_PROCESS in tests/conftest.py"
            )
        return original(self, args, executable, *rest, **kw)

    monkeypatch.setattr(subprocess.Popen, "_execute_child", guarded)
    yield


def need_torch() -> None:
    """Skip the calling test or fixture without the torch extra; fail instead when PARITYBENCH_REQUIRE_TORCH=1 (CI
    installs the extra and sets it: .ci/run), so a missing torch is never a silent green."""
    if importlib.util.find_spec("torch") is None:
        why = 'torch is not installed: make setup EXTRAS="--extra cpu --extra torch"'
        if os.environ.get("PARITYBENCH_REQUIRE_TORCH") == "1":
            pytest.fail(f"PARITYBENCH_REQUIRE_TORCH=1 but {why}")
        pytest.skip(why)


@pytest.fixture
def torch():
    """The torch module (``need_torch`` first)."""
    need_torch()
    import torch

    return torch
