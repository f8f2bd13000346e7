"""config -> data window + initial weights -> arms (one process per framework) -> runs.

The runner builds the artifact's ``runs``: it trains the main-process arms (JAX,
NumPy) itself, hands each Keras backend to its own worker process, then
evaluates every final weight set with every forward pass it has (the seed's
weight swap). A framework that is not installed makes its arms ``skipped``; a
worker that fails makes its arms ``error``; neither stops the other arms.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import SCHEMA_VERSION, __version__, arms, data, environment, flags, model
from .arms import ArmResult, ArmSpec, TrainSpec
from .artifact import num
from .config import RunConfig

# Keras backends run in this order so that the TensorFlow worker, last, can
# evaluate the final weights of every other arm with its forward pass.
KERAS_ORDER = ("keras-torch", "keras-jax", "keras-tensorflow")


class Progress:
    """What the runner reports as it goes; the CLI draws it with rich."""

    def start(self, total: int) -> None: ...

    def advance(self, label: str) -> None: ...

    def note(self, text: str) -> None: ...


@dataclass
class RunOutput:
    runs: list[dict]
    finals: dict[tuple[str, int, int], model.Weights]
    environment: dict
    timing: dict
    extra: dict = field(default_factory=dict)


def missing_requirements(spec: ArmSpec) -> list[str]:
    return [m for m in spec.requires if importlib.util.find_spec(m) is None]


def install_hint(missing: list[str]) -> str:
    if "torch" in missing:
        return "install the torch extra: make setup EXTRAS=\"--extra cpu --extra torch\""
    return "install the project's environment: make setup"


def _entry(spec: ArmSpec, seed: int, start: int, n: int, result: ArmResult | None = None,
           status: str = "ok", reason: str | None = None) -> dict:
    e: dict = {"arm": spec.name, "seed": seed, "window_start": start, "n": n, "status": status,
               "loss_formulation": spec.loss}
    if result is None:
        e.update(reason=reason or status, initial_accuracy=None, final_accuracy=None, final_loss=None,
                 curves={}, final_weights_sha256=None, swap={})
        return e
    c = result.curves
    nonfinite = [bool(v) for v in c["nonfinite"]]
    e.update(
        initial_accuracy=c["accuracy"][0],
        final_accuracy=c["accuracy"][-1],
        final_loss=num(c["loss"][-1]),
        any_nonfinite=any(nonfinite) or not all(np.isfinite(c["grad_norm"])),
        first_nonfinite_step=next((i for i, v in enumerate(nonfinite) if v), None),
        curves={
            "loss": [num(v) for v in c["loss"]],
            "accuracy": list(c["accuracy"]),
            "correct": [int(v) for v in c["correct"]],
            "grad_norm": [num(v) for v in c["grad_norm"]],
            "nonfinite": nonfinite,
            **{k: v for k, v in c.items() if k not in ("loss", "accuracy", "correct", "grad_norm", "nonfinite")},
        },
        final_weights_sha256=model.weights_sha256(result.final_weights),
        swap={},
        info={k: v for k, v in result.info.items() if not k.startswith("final_weights")},
    )
    return e


def run(cfg: RunConfig, progress: Progress | None = None) -> RunOutput:
    """Train every arm of ``cfg`` on every (seed, window); return runs and final weights."""
    progress = progress or Progress()
    t_start = time.perf_counter()
    ds = data.load_mnist(cfg.data_path, cfg.data_sha256)
    windows = {w: data.window(ds, w, cfg.n, cfg.normalize) for w in cfg.windows}  # fail fast
    specs = arms.resolve(cfg.arms)
    cases = [(s, w) for s in cfg.seeds for w in cfg.windows]
    progress.start(len(specs) * len(cases))
    spec_train = TrainSpec(steps=cfg.steps, lr=cfg.lr)

    inits = {s: model.init_weights(s, cfg.threefry_partitionable) for s in cfg.seeds}
    env = environment.fingerprint()
    env["frameworks"] = {"main": flags.read_back_jax(cfg.numerics)}
    env["data"] = {"path": ds.path, "sha256": ds.sha256, "bundled": ds.bundled}
    runs: dict[tuple[str, int, int], dict] = {}
    finals: dict[tuple[str, int, int], model.Weights] = {}
    timing = {"train_seconds": 0.0, "process_seconds": {}}

    t_main = time.perf_counter()
    for spec in (s for s in specs if s.process == "main"):
        missing = missing_requirements(spec)
        for seed, start in cases:
            key = (spec.name, seed, start)
            if missing:
                runs[key] = _entry(spec, seed, start, cfg.n, status="skipped",
                                   reason=f"{', '.join(missing)} not installed: {install_hint(missing)}")
            else:
                x, y = windows[start]
                t = time.perf_counter()
                try:
                    result = spec.train(inits[seed], x, y, spec_train)
                except Exception as exc:  # an arm's crash is its result, not the harness's
                    runs[key] = _entry(spec, seed, start, cfg.n, status="error",
                                       reason=f"{type(exc).__name__}: {exc}")
                else:
                    dt_train = time.perf_counter() - t
                    result.info.setdefault("train_seconds", dt_train)
                    timing["train_seconds"] += dt_train
                    runs[key] = _entry(spec, seed, start, cfg.n, result)
                    finals[key] = result.final_weights
            progress.advance(f"{spec.name} seed {seed} window {start}")
    timing["process_seconds"]["main"] = time.perf_counter() - t_main

    keras_specs = sorted((s for s in specs if s.process != "main"),
                         key=lambda s: KERAS_ORDER.index(s.process) if s.process in KERAS_ORDER else 99)
    swap_extra: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="paritybench-") as tmp:
        init_files = {}
        for s, w in inits.items():
            init_files[s] = os.path.join(tmp, f"init-s{s}.npz")
            np.savez(init_files[s], **w)
        for spec in keras_specs:
            t_proc = time.perf_counter()
            _run_keras(spec, cfg, cases, init_files, tmp, runs, finals, swap_extra, env, timing, progress)
            timing["process_seconds"][spec.process] = time.perf_counter() - t_proc

    if cfg.swap:
        for (arm, seed, start), w in finals.items():
            x, y = windows[start]
            for label, fn in arms.MAIN_EVALUATORS.items():
                runs[(arm, seed, start)]["swap"][label] = fn(w, x, y) / cfg.n
        for item in swap_extra:
            key = (item["label"], item["seed"], item["window"])
            if key in runs:
                runs[key]["swap"][item["evaluator"]] = item["correct"] / cfg.n
    timing["total_seconds"] = time.perf_counter() - t_start
    ordered = [runs[(spec.name, s, w)] for s, w in cases for spec in specs]
    return RunOutput(runs=ordered, finals=finals, environment=env, timing=timing)


def _run_keras(spec, cfg, cases, init_files, tmp, runs, finals, swap_extra, env, timing, progress):
    missing = missing_requirements(spec)
    if missing:
        for seed, start in cases:
            runs[(spec.name, seed, start)] = _entry(
                spec, seed, start, cfg.n, status="skipped",
                reason=f"{', '.join(missing)} not installed: {install_hint(missing)}")
            progress.advance(f"{spec.name} skipped")
        return
    backend = spec.process.removeprefix("keras-")
    job_dir = Path(tmp) / spec.process
    job_dir.mkdir()
    evaluate = []
    if cfg.swap:
        for (arm, seed, start), w in finals.items():
            f = job_dir / f"eval-{arm}-s{seed}-w{start}.npz"
            np.savez(f, **w)
            evaluate.append({"label": arm, "seed": seed, "window": start, "weights_file": str(f)})
    job = {
        "backend": backend, "steps": cfg.steps, "lr": cfg.lr, "n": cfg.n, "normalize": cfg.normalize,
        "data_path": cfg.data_path, "data_sha256": cfg.data_sha256,
        "numerics": cfg.numerics.to_dict(), "out_dir": str(job_dir), "evaluate": evaluate,
        "cases": [{"seed": s, "window": w, "init_file": init_files[s]} for s, w in cases],
    }
    (job_dir / "job.json").write_text(json.dumps(job))
    child_env = flags.env_for(cfg.numerics)
    child_env["KERAS_BACKEND"] = backend
    # The worker must import this same paritybench, installed or not.
    src = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = src + os.pathsep + child_env.get("PYTHONPATH", "")
    stderr_path = job_dir / "stderr.txt"
    with open(stderr_path, "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "paritybench.keras_worker", str(job_dir / "job.json")],
                                stdout=subprocess.PIPE, stderr=err, text=True, env=child_env)
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("PB-EVENT "):
                ev = json.loads(line[9:])
                progress.advance(f"{spec.name} seed {ev['seed']} window {ev['window']}")
        rc = proc.wait()
    result_file = job_dir / "result.json"
    if rc != 0 or not result_file.exists():
        lines = stderr_path.read_text(errors="replace").strip().splitlines()
        why = next((ln[9:] for ln in reversed(lines) if ln.startswith("PB-ERROR ")), lines[-1] if lines else "")
        for seed, start in cases:
            key = (spec.name, seed, start)
            if key not in runs:
                runs[key] = _entry(spec, seed, start, cfg.n, status="error",
                                   reason=f"{spec.process} worker exited with status {rc}: {why}")
        return
    result = json.loads(result_file.read_text())
    env["frameworks"][spec.process] = result["environment"]
    for r in result["runs"]:
        w = model.load_weights_npz(r["final_file"])["w"]
        key = (spec.name, r["seed"], r["window"])
        finals[key] = w
        timing["train_seconds"] += r["info"].get("train_seconds", 0.0)
        runs[key] = _entry(spec, r["seed"], r["window"], cfg.n, ArmResult(r["curves"], w, r["info"]))
    for item in result["swap"]:
        swap_extra.append({**item, "evaluator": spec.name})
    # The worker's own forward pass on its own weights belongs to the swap too.
    if cfg.swap:
        for r in result["runs"]:
            key = (spec.name, r["seed"], r["window"])
            runs[key]["swap"][spec.name] = r["curves"]["accuracy"][-1]


def build_artifact(cfg: RunConfig, out: RunOutput, kind: str = "run", weights_file: str | None = None) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "kind": kind,
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        "paritybench_version": __version__,
        "config_hash": cfg.short_hash(),
        "config": {**cfg.to_dict(), "numerics": cfg.numerics.to_dict(),
                   "data": {"path": cfg.data_path or "(bundled)", "expected_sha256": cfg.data_sha256}},
        "environment": out.environment,
        "timing": out.timing,
        "weights_file": weights_file,
        "runs": out.runs,
    }
