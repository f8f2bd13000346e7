"""What a command will need, checked from its arguments before any framework is imported.

Two kinds of check live here:

- ``estimate_*`` and ``require_memory``: the peak memory a ``run``, ``sweep`` or
  ``sensitivity`` will hold, counted from what the runner keeps (trajectories of
  weights per step with full diagnostics, float64 copies for the reference, the
  vmapped copies of a sensitivity study, every run's curves and final weights),
  compared with the memory this machine (or its cgroup) has available. A command
  that cannot fit is refused with the estimate, the machine's memory and the fix.

The counts follow the runner as it is (``runner._Session``, ``arms/jax_arms.py``,
``arms/reference.py``, ``keras_worker.py``); the per-step coefficients and the
fixed overheads were calibrated against measured peaks with ``bench/bench_memory.py``
(which prints estimate and measured peak side by side) and err on the high side.
This module imports no framework and no NumPy: it must run before ``flags.apply``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from paritybench import workloads
from paritybench.arms.registry import kind_of
from paritybench.errors import ParityError
from paritybench.experiment.weights import n_params
from paritybench.pipeline.localize import bytes_per_step

# One weight set's bytes come from the workload's declared parameters (the seed's 784-1000-1 MLP:
# 786,001 parameters, 3.1 MB in float32); calibrated on the seed workload (bench/bench_memory.py).

# Steps beyond this are refused outright: the per-step curves alone would make a JSON
# artifact of gigabytes per arm, and JAX's lax.scan counts its iterations in int32.
MAX_STEPS = 10_000_000

# Fixed costs measured on this CPU machine (bench/bench_memory.py, peak RSS of the process
# tree at --steps 2 --n 100): the main process with JAX, SciPy and the data loaded (489-497 MiB
# for jax-logits,reference-f64), and one Keras worker with its backend imported (keras-jax:
# 1396 MiB for the tree with reference-f64, so about 950 MiB for the worker; keras-tensorflow less).
MAIN_OVERHEAD = 600 * 2**20
KERAS_WORKER_OVERHEAD = 1000 * 2**20
# One step of one arm's curves as Python objects in the run dict (about 14 lists of floats
# with full diagnostics, 24 B per float object plus an 8 B pointer), plus its JSON text
# (indent=1: one value per line) and the encoded copy written at the end.
CURVE_BYTES_PER_STEP_FULL = 14 * (32 + 2 * 26)
CURVE_BYTES_PER_STEP_LIGHT = 10 * (32 + 2 * 26)
# What the run asks the machine to keep free beyond its own estimate (the OS, page cache).
HEADROOM = 0.9


def check_steps(steps: int) -> None:
    if steps > MAX_STEPS:
        raise ParityError(
            f"--steps {steps}: at most {MAX_STEPS:,} steps (each step's curves are kept in the "
            "artifact, and JAX counts scan iterations in int32); use fewer steps"
        )


@dataclass
class Estimate:
    """A peak-memory estimate in bytes, with the parts that make it up (for the message)."""

    command: str
    parts: dict[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.parts.values())

    def largest(self) -> str:
        return max(self.parts, key=self.parts.get) if self.parts else ""


def _arms(cfg) -> tuple[list[str], list[str]]:
    """(main-process arms, Keras arms) of ``cfg``, from the workload's declaration (no framework import)."""
    w = workloads.load(cfg.workload)
    specs = w.resolve_arms(cfg.arms)
    return [a.name for a in specs if a.process == "main"], [a.name for a in specs if a.process != "main"]


def _weight_bytes(cfg) -> tuple[int, int]:
    """(float32, float64) bytes of one weight set of ``cfg``'s workload."""
    n = n_params(workloads.load(cfg.workload).model.params)
    return 4 * n, 8 * n


def estimate(
    cfg, command: str = "run", cases: int | None = None, keep_trajectory: bool | None = None, batched: int | None = None
) -> Estimate:
    """Peak bytes the runner holds for ``cfg`` (see the module docstring for what is counted).

    ``cases``: training problems (seeds x windows by default; K for a sensitivity study);
    ``batched``: how many of them a JAX arm trains at once in one vmapped program
    (the cases sharing a window); ``keep_trajectory`` defaults to ``cfg.diagnostics == "full"``.
    """
    main_arms, keras_arms = _arms(cfg)
    W32, W64 = _weight_bytes(cfg)  # noqa: N806 - the byte sizes the comments below call W32 and W64
    n_cases = len(cfg.seeds) * len(cfg.windows) if cases is None else cases
    batch = batched if batched is not None else (len(cfg.seeds) if cases is None else n_cases)
    keep = (cfg.diagnostics == "full") if keep_trajectory is None else keep_trajectory
    steps = cfg.steps
    n_arms = len(main_arms) + len(keras_arms)
    e = Estimate(command)
    e.parts["frameworks (measured fixed cost)"] = MAIN_OVERHEAD + (KERAS_WORKER_OVERHEAD if keras_arms else 0)
    # data: the windows in float32 plus their float64 copies for the reference
    e.parts["data windows"] = len(cfg.windows) * cfg.n * 785 * (4 + 8)
    # initial weights (one per case: a perturbed copy each in a sensitivity study) and every
    # run's final weights, which the runner keeps to the end for the weight swap
    e.parts["initial and final weights"] = n_cases * W32 * (1 + n_arms)
    per_step = CURVE_BYTES_PER_STEP_FULL if keep else CURVE_BYTES_PER_STEP_LIGHT
    e.parts["per-step curves and JSON"] = n_cases * n_arms * (steps + 1) * per_step
    # a vmapped JAX arm holds, per copy in a batch: the checked copy, the stacked input, its device
    # copy, the device and host finals, and the float64 perturbation (sensitivity) or init (6 sets)
    transient = 6 * batch * W32 if main_arms else 0
    if keep:
        ref_traj = (steps + 1) * W64  # the reference's float64 trajectory, kept all run per case
        held = n_cases * ref_traj
        phases = [steps * W64 * batch]  # the reference's own float64 gradients while it trains

        workload = workloads.load(cfg.workload)
        if any(kind_of(workload.arm(a)).holds_step_arrays for a in main_arms):
            # params and grads of every step: on the device and copied to the host
            phases.append(4 * steps * W32 * batch)
        e.parts["reference trajectory (float64, per case)"] = held
        transient = max(transient, *phases)
        if keras_arms:
            # worker: its trajectory; parent: the same loaded back, plus float64 gradients from it.
            # Added to (not maxed with) the main-process phases: the parent's RSS does not shrink
            # after its JAX phase (measured: keras-jax,jax-keras-clip,reference-f64 at 30 steps).
            transient += (steps + 1) * W32 * 2 + steps * W64
    e.parts["largest training phase"] = transient
    # The counted per-step slope matches the measured one (18.0 MiB/step for jax-logits +
    # reference-f64, bench/bench_memory.py), so the margin must come from here: allocator
    # slack and short-lived copies (the diagnostics' float64 flattening) on top of what is held.
    variable = sum(v for k, v in e.parts.items() if not k.startswith("frameworks"))
    e.parts["margin (10% of the variable part)"] = variable // 10
    return e


def weights_file_bytes(cfg, cases: int | None = None) -> int:
    """Size of the final-weights npz beside a ``run`` artifact (float32, one set per arm and case).

    Checked against free disk space before training with ``artifact_json_bytes`` (a disk that
    fills up anyway loses nothing: ``safeout.commit_pair``).
    """
    main_arms, keras_arms = _arms(cfg)
    W32, W64 = _weight_bytes(cfg)  # noqa: N806 - the byte sizes the comments below call W32 and W64
    n_cases = len(cfg.seeds) * len(cfg.windows) if cases is None else cases
    return n_cases * (len(main_arms) + len(keras_arms)) * W32


def artifact_json_bytes(cfg, cases: int | None = None) -> int:
    """An upper bound on an artifact's JSON: 64 KiB for config, environment and summaries, and per run
    2 KiB plus 400 bytes a step (measured at indent 1: about 1,100 bytes plus 180 a step per run, e.g.
    2,864 bytes a run at 10 steps in tests/data/run-seed0.json, 1,444 at 2 steps; the rest 5-22 KB)."""
    main_arms, keras_arms = _arms(cfg)
    n_cases = len(cfg.seeds) * len(cfg.windows) if cases is None else cases
    return 65536 + n_cases * (len(main_arms) + len(keras_arms)) * (2048 + 400 * (cfg.steps + 1))


def available_memory() -> tuple[int | None, str]:
    """(bytes available to this process, where that figure came from); (None, why) if unknown.

    MemAvailable from /proc/meminfo (what the kernel can give without swapping), capped
    by the cgroup's limit less its current use when a limit is set (cgroup v2, then v1).
    """
    avail, source = None, ""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail, source = int(line.split()[1]) * 1024, "MemAvailable in /proc/meminfo"
                    break
    except OSError:
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
            source = "free physical pages (sysconf)"
        except (ValueError, OSError, AttributeError):
            return None, "no /proc/meminfo or sysconf"
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            with open(limit_file) as fh:
                raw = fh.read().strip()
            if raw == "max":
                continue
            limit = int(raw)
            if limit >= 2**60:  # cgroup v1 writes "no limit" as a huge number
                continue
            try:
                with open(usage_file) as fh:
                    used = int(fh.read().strip())
            except (OSError, ValueError):
                used = 0
            if limit - used < avail:
                avail, source = max(limit - used, 0), f"cgroup limit {limit_file} less current use"
            break
        except (OSError, ValueError):
            continue
    return avail, source


def _gb(b: int) -> str:
    return f"{b / 2**30:.1f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def require_memory(est: Estimate, available: int | None = None, fixes: str = "") -> None:
    """Refuse (one line: estimate, the machine's memory, the fix) when ``est`` cannot fit.

    ``available`` defaults to ``available_memory()``; an unknown figure lets the command run.
    """
    source = "given"
    if available is None:
        available, source = available_memory()
        if available is None:
            return
    if est.total <= HEADROOM * available:
        return
    fix = fixes or "use fewer --steps, --diagnostics light, or fewer seeds/windows"
    raise ParityError(
        f"{est.command} would need about {_gb(est.total)} of memory (mostly {est.largest()}: "
        f"{_gb(est.parts[est.largest()])}) but this machine has {_gb(available)} available ({source}): {fix}",
        exit_code=2,
    )


def check_run(cfg) -> Estimate:
    """``run`` (and each ``--repeat``): refuse before training when it cannot fit."""
    return _check_training(
        cfg,
        "run",
        fixes="use fewer --steps (full diagnostics keep every step's weights), "
        "fewer --seeds/--windows, or sweep --diagnostics light",
    )


def check_sweep(cfg) -> Estimate:
    return _check_training(
        cfg,
        "sweep",
        fixes="use fewer --steps, fewer --seeds or --windows (split the grid into several "
        "sweeps), or --diagnostics light",
    )


def _check_training(cfg, command: str, fixes: str) -> Estimate:
    """The step cap, then the memory ``command`` would need against what this machine has (``fixes``: what to
    change when it cannot fit)."""
    check_steps(cfg.steps)
    est = estimate(cfg, command)
    require_memory(est, fixes=fixes)
    return est


def check_sensitivity(cfg, k: int) -> Estimate:
    check_steps(cfg.steps)
    est = estimate(cfg, "sensitivity", cases=k, keep_trajectory=False, batched=k)
    require_memory(est, fixes="use a smaller --k or fewer --steps")
    return est


def check_localize(cfg, workload, pairs) -> Estimate:
    """``localize``: the step cap, then memory. Every step's evaluations (weights, gradients, updates,
    layer outputs) are kept: ``localize.bytes_per_step`` per step and evaluated series. Each pair's A
    trajectory stays cached to the end (one series per distinct A arm), and the pair in hand adds B's
    and the references' evaluations at A's weights (counted as two more). Peak RSS slopes measured on
    this machine against this estimate: seed-bce jax-logits,reference-f64 --n 100, 29.7 MB/step (94);
    seed-bce --arms jax-naive,jax-seed-stable,jax-logits (three pairs, n 1000), 106 MB/step (226);
    adam-epsilon jax-adam-literal,reference-f64 --n 100, 3.1 MB/step (3.1). The bound counts every
    value in float64 and Adam's moments for every arm, hence the margin for the float32 SGD arms."""
    check_steps(cfg.steps)
    e = Estimate("localize")
    keras = any(kind_of(arm).in_worker for pair in pairs for arm in pair)
    e.parts["frameworks (measured fixed cost)"] = MAIN_OVERHEAD + (KERAS_WORKER_OVERHEAD if keras else 0)
    series = len({a.name for a, _ in pairs}) + 2
    e.parts["every step's evaluations"] = cfg.steps * bytes_per_step(workload, cfg.n, series)
    require_memory(e, fixes="use fewer --steps (localize keeps every step), a smaller --n, or one pair (--arms A,B)")
    return e


def localize_record_bytes(cfg, workload, pairs) -> int:
    """An upper bound on ``localize --out``'s JSON: per pair and step, one check per (phase, tensor),
    counted at 400 bytes (measured: seed-bce --steps 3 --n 100, one pair: 39 checks, 13 a step, in a
    7,340-byte record, under 190 bytes a check with the record's own fields)."""
    m = workload.model
    # Model.keras_weighted_layers: one forward check per layer with weights, at most one per weight
    layers = len(m.keras_layers) + (len(m.params) if m.keras_weighted_layers else 0)
    tensors = 3 * len(m.params) + len(m.state) + layers + 4
    return 65536 + len(pairs) * cfg.steps * tensors * 400


__all__ = [
    "localize_record_bytes",
    "artifact_json_bytes",
    "check_localize",
    "Estimate",
    "estimate",
    "available_memory",
    "require_memory",
    "check_steps",
    "check_run",
    "check_sweep",
    "check_sensitivity",
    "MAX_STEPS",
    "weights_file_bytes",
]
