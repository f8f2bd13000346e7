"""Shared setup of the timing suites (pytest-benchmark).

Run them with ``make bench-timing`` (``bench/run_timing.py``), which starts one
pytest process for the JAX and NumPy suites and one per Keras backend and merges
their ``--benchmark-json`` files. Timing is measured here, never asserted.

The numerics flags go into the environment before any framework is imported
(this conftest is imported before the suites), exactly as ``paritybench run``
sets them, so the timed programs are the ones the arms run. What each framework
reports after import, and the environment fingerprint, go into pytest-benchmark's
``machine_info`` through its hook.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import benchutil
import pytest

from paritybench.experiment import flags

flags.apply(benchutil.OPTS)  # before any framework import: the suites import them after this

# Rounds and warm-up rounds per kind of measurement in the full run. Every call is
# timed on its own (pedantic mode, one iteration per round), so median and IQR are
# those of single calls. Counts are chosen for a stable median at these call times
# on a 2-core machine (matmul ~10 ms, step ~12-60 ms, 10-step scan ~120 ms,
# the float64 reference ~100 ms) while the whole run stays a few minutes.
ROUNDS = {"matmul": (60, 5), "step": (50, 5), "keras": (30, 3), "train": (20, 2), "reference": (15, 2)}
QUICK_ROUNDS = (3, 1)  # --timing-quick: proves the suites run (make test), times nothing worth quoting


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--timing-quick",
        action="store_true",
        help=f"run every benchmark {QUICK_ROUNDS[0]} rounds: a smoke test, not a measurement",
    )


def pytest_benchmark_update_machine_info(config: pytest.Config, machine_info: dict) -> None:
    """Add the environment fingerprint and each framework's numerics read-back."""
    from paritybench.experiment.environment import fingerprint

    machine_info["paritybench"] = {
        "timing_format": 1,
        "machine": benchutil.machine_slug(),
        "suite": os.environ.get("PARITYBENCH_TIMING_SUITE", "(run by hand)"),
        "quick": bool(config.getoption("--timing-quick")),
        "fingerprint": fingerprint(),
        "frameworks": benchutil.read_backs(),
        "numpy_blas": benchutil.numpy_blas(),
    }


@pytest.fixture(scope="session")
def problem() -> dict[str, Any]:
    """The workload's preset problem (seed-bce: window 0:1000 of the bundled MNIST, raw pixels, stax
    init at seed 0), its step's FLOPs and the first layer's kernel for the matmul benchmarks."""
    import numpy as np

    from paritybench import workloads
    from paritybench.experiment import data
    from paritybench.experiment.weights import copy_weights
    from paritybench.timing import flops

    w = benchutil.workload()
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=w.data.normalize, labels=w.data.labels)
    init = copy_weights(workloads.resolve_ref(w.model.init)(0), w.model.params)
    first = next(iter(w.model.params))  # the first declared parameter: the first layer's kernel in a dense chain
    # dh for the backward product x.T @ dh: any dense float32 matrix of the right shape
    # does the same work; a fixed draw keeps runs identical.
    out_dim = w.model.params[first][-1]
    dh = np.random.default_rng(0).standard_normal((x.shape[0], out_dim)).astype(np.float32)
    return {
        "x": x,
        "y": y,
        "init": init,
        "dh": dh,
        "lr": w.training.lr,
        "workload": w,
        "kernel": first if len(w.model.params[first]) == 2 else None,
        "step_flops": flops.workload_step_flops(w, x.shape[0]),
    }


@pytest.fixture
def timed(benchmark, request) -> Callable[..., Any]:
    """``timed(fn, kind=..., label=..., setup=None, **extra_info)``: time ``fn`` in pedantic mode.

    ``fn`` must finish its work before it returns (``block_until_ready`` or a sync);
    ``setup`` (untimed) runs before every round. ``extra_info`` is what the
    ``timing`` command reads: label, measure, flops, steps_per_call, device, ...
    """
    quick = request.config.getoption("--timing-quick")

    def run(
        fn: Callable[[], Any],
        *,
        kind: str,
        group: str,
        label: str,
        setup: Callable[[], Any] | None = None,
        **extra: Any,
    ) -> Any:
        rounds, warmup = QUICK_ROUNDS if quick else ROUNDS[kind]
        benchmark.group = group
        benchmark.extra_info.update({"label": label, "rounds_planned": rounds, "warmup_rounds": warmup, **extra})
        wrapped_setup = None if setup is None else (lambda: (setup(), None)[1])
        return benchmark.pedantic(fn, setup=wrapped_setup, rounds=rounds, warmup_rounds=warmup, iterations=1)

    return run
