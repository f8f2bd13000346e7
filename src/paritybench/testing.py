"""The pytest plugin (entry point ``pytest11``, loaded by pytest wherever paritybench is installed): keep "my port
trains like my reference for N steps" in a project's own tests.

    from paritybench.testing import assert_trains_like

    def test_port_trains_like_reference():
        assert_trains_like("path/to/workload.py", "my-port", "reference-f64", steps=5)

    def test_with_the_fixture(parity):  # the same, its localize record under the test's tmp_path
        parity.assert_trains_like("seed-bce", "jax-logits", steps=3)

``assert_trains_like`` runs ``paritybench localize`` on the pair (``paritybench.api.localize``): both arms at the
same weights, step by step, against the float32 noise floor. Where they part it raises AssertionError whose first
line is localize's line for the pair (``ARM vs REF: step K, PHASE, TENSOR: ...``); a pair that could not run (a
framework not installed) fails too, never passes. Loading the plugin imports no framework and sets nothing; a test
session whose conftest or test modules import a framework sets the numerics flags before they load with the ini
option ``paritybench_set_flags = true`` (else a parity test in it is refused, naming the flags: ``paritybench.api``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # the annotations only: the API itself loads when a test first calls it (below)
    from paritybench import api


def assert_trains_like(
    workload: api.WorkloadLike,
    arm: str,
    reference: str | None = None,
    *,
    steps: int | None = None,
    seed: int = 0,
    window: int = 0,
    n: int | None = None,
    lr: float | None = None,
    out: str | os.PathLike[str] | None = None,
) -> api.LocalizeResult:
    """Fail (AssertionError, localize's first-parting line first) unless ``arm`` trains like ``reference`` (default:
    the workload's reference arm) for ``steps`` steps: no tensor of any phase parts beyond the noise floor.
    Returns localize's result (its record's path) when they do not part."""
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    # pytest imports this plugin into every session wherever paritybench is installed: the API (commands, pipeline,
    # numpy, rich) loads when a test first calls it, not at every pytest start (tests/test_layout.py)
    # late: the API, at the first call
    from paritybench import api

    found = api.localize(workload, arm, reference, steps=steps, seed=seed, window=window, n=n, lr=lr, out=out)
    if found.skipped:
        raise AssertionError(f"{arm} was not compared: {'; '.join(found.skipped)}")
    if len(found.pairs) != 1:  # localize --arms ARM leaves out the reference itself and an arm that needs a GPU
        raise AssertionError(
            f"localize compared no pair for {arm}: it is the workload's reference arm or needs a GPU; "
            "name both arms (reference=...)"
        )
    pair = found.pairs[0]
    if pair.parts:
        raise AssertionError(f"{pair.line}\nlocalize record: {found.record}")
    return found


class Parity:
    """The ``parity`` fixture: ``assert_trains_like`` with its localize records under the test's ``tmp_path``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.count = 0

    def assert_trains_like(
        self,
        workload: api.WorkloadLike,
        arm: str,
        reference: str | None = None,
        *,
        steps: int | None = None,
        seed: int = 0,
        window: int = 0,
        n: int | None = None,
        lr: float | None = None,
    ) -> api.LocalizeResult:
        __tracebackhide__ = True
        self.count += 1
        out = self.folder / f"localize-{self.count}-{arm}.json"
        return assert_trains_like(workload, arm, reference, steps=steps, seed=seed, window=window, n=n, lr=lr, out=out)


@pytest.fixture
def parity(tmp_path: Path) -> Parity:
    """``parity.assert_trains_like(workload, arm, reference, steps=N)``, records kept under ``tmp_path``."""
    return Parity(tmp_path)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "paritybench_set_flags",
        "set paritybench's numerics flags when the session starts (before test modules import a framework)",
        type="bool",
        default=False,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """``paritybench_set_flags = true``: the numerics flags, set before the conftest files and test modules load
    (a framework they import loads with them). Refused where a framework is already loaded with other values."""
    if early_config.getini("paritybench_set_flags"):
        from paritybench import api  # late: only a session that asks for the flags loads the API (see above)

        try:
            api.set_flags()
        except api.ParityError as exc:
            raise pytest.UsageError(f"paritybench_set_flags: {exc}") from None
