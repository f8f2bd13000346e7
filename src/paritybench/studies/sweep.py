"""``paritybench sweep`` and ``paritybench sensitivity``: many runs into one artifact.

A sweep trains every arm over a seed x window grid. It checkpoints every
finished run to ``<artifact>.partial.jsonl`` (one JSON line each, flushed and
fsynced), so an interrupted sweep loses nothing: ``--resume <artifact>`` reads
the checkpoint, trains only what is missing and writes the same artifact an
uninterrupted sweep would have written.

A sensitivity study trains each arm from K copies of one seed's initial
weights, each perturbed by a relative ``--rel`` (default 1e-7, about one
float32 ulp), and classes each arm ``stable`` or ``chaotic``.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np

from paritybench.errors import ParityError
from paritybench.studies.checkpoint import CHECKPOINT_SUFFIX, Checkpoint, checkpoint_path  # noqa: F401 - re-exported


def add_parser(sub) -> None:
    from paritybench.commands.common import add_experiment_args
    from paritybench.studies.checkpoint import track_explicit_options

    p = sub.add_parser("sweep", help="every arm over a seed x window grid into one artifact (resumable)")
    add_experiment_args(p, seeds_default="0-9", windows_default="0:10000:1000")
    p.add_argument(
        "--diagnostics",
        choices=("light", "full"),
        default="light",
        help="full adds per-step gradient agreement with the f64 reference (slow); default %(default)s",
    )
    p.add_argument(
        "--resume",
        metavar="ARTIFACT",
        default=None,
        help="finish an interrupted sweep: the artifact path it was writing",
    )
    from paritybench.studies.engines import add_sweep_args

    add_sweep_args(p)  # --shard, --engine, --address
    p.set_defaults(func=cmd_sweep)
    track_explicit_options(p)  # --resume refuses typed options that contradict the checkpoint

    p = sub.add_parser("sensitivity", help="train each arm from K ulp-perturbed copies of one initial weight set")
    add_experiment_args(p)
    p.add_argument("--k", type=int, default=32, help="perturbed copies (default %(default)s)")
    p.add_argument("--rel", type=float, default=1e-7, help="relative perturbation (default %(default)s)")
    p.set_defaults(func=cmd_sensitivity)


def cmd_sweep(args, console) -> int:
    from paritybench.studies import engines
    from paritybench.studies.checkpoint import start_sweep

    engines.check_args(args)
    # Inputs, output folder, lock, then the checkpoint (created, or reopened and checked for --resume);
    # the lock is held until the sweep ends.
    # Ray is started or joined after every check and before the checkpoint is written (issue 21)
    sweep = start_sweep(args, console, before_write=lambda: engines.connect(args))
    with sweep.lock:
        return _run_sweep(args, sweep, console)


def _run_sweep(args, sweep, console) -> int:
    from paritybench.commands.common import RichProgress
    from paritybench.experiment import flags
    from paritybench.studies import engines
    from paritybench.studies.checkpoint import finish_sweep, write_result

    cfg, ckpt, done, out = sweep.cfg, sweep.checkpoint, sweep.done, sweep.out
    flags.apply(cfg.numerics)
    from paritybench.pipeline import runner

    skip = sweep.skip  # error runs are not in it: a resume trains them again
    prog = RichProgress(console)
    try:
        result = engines.run(args, sweep.header, cfg, prog, skip=skip, on_run=ckpt.append, out=out)
    finally:
        prog.stop()
    runs = _merge(cfg, done, result.runs)
    kind, runs, scale_extra = engines.finish(sweep.header, cfg, runs)  # shard and node fields
    artifact = runner.build_artifact(
        cfg,
        replace(result, runs=runs),
        kind,
        None,
        extra={**_sweep_extra(cfg, runs, resumed=bool(done)), **scale_extra},
    )
    write_result(sweep, artifact)
    _print_sweep(console, artifact)
    return finish_sweep(sweep, artifact, console)


def _merge(cfg, done: list[dict], new: list[dict]) -> list[dict]:
    """All runs in the order an uninterrupted sweep lists them (case by case, arm by arm)."""
    from paritybench import workloads
    from paritybench.pipeline import runner

    by_key = {runner.run_key(r): r for r in done}
    by_key.update({runner.run_key(r): r for r in new})
    specs = workloads.load(cfg.workload).resolve_arms(cfg.arms)
    return [by_key[c.key(s.name)] for c in runner.default_cases(cfg) for s in specs if c.key(s.name) in by_key]


def _sweep_extra(cfg, runs: list[dict], resumed: bool) -> dict:
    from paritybench import workloads
    from paritybench.analysis import stats
    from paritybench.experiment import data

    ds = data.load_mnist(cfg.data_path, cfg.data_sha256)
    labels = workloads.load(cfg.workload).data.labels
    majority = stats.majority_rates({w: data.window(ds, w, cfg.n, cfg.normalize, labels)[1] for w in cfg.windows})
    return {
        "summary": stats.sweep_summary(runs, majority),
        "windows_info": {str(w): {"majority_rate": m} for w, m in majority.items()},
        "resumed": resumed,
    }


def _print_sweep(console, artifact: dict) -> None:
    from rich.table import Table

    t = Table(
        title=f"{artifact['kind']}: final training accuracy over {len(artifact['config']['seeds'])} seeds x "
        f"{len(artifact['config']['windows'])} windows"
    )
    for col in ("arm", "mean", "std", "min", "median", "max", "near chance", "vs reference (mean)"):
        t.add_column(col, justify="left" if col == "arm" else "right")
    for arm, s in artifact["summary"].items():
        fa = s["final_accuracy"]
        pd = s.get("paired_diff_vs_reference")
        t.add_row(
            arm,
            f"{fa['mean']:.3f}",
            f"{fa['std']:.3f}",
            f"{fa['min']:.3f}",
            f"{fa['median']:.3f}",
            f"{fa['max']:.3f}",
            f"{s['near_chance']['count']}/{fa['count']}",
            f"{pd['mean']:+.3f}" if pd else "-",
        )
    console.print(t)
    tm = artifact["timing"]
    console.print(
        f"time: {tm['total_seconds']:.0f} s in all, {tm['train_seconds']:.0f} s in training steps "
        f"({100 * tm['train_seconds'] / max(tm['total_seconds'], 1e-9):.0f}%)"
    )


def perturb(weights: dict, rel: float, seed: int, copy: int) -> dict:
    """``w * (1 + rel * s)`` with random signs s, computed in float64 and rounded to float32.

    A relative change of 1e-7 is at least half a float32 ulp (ulps are 6e-8 to
    1.2e-7 relative), so nearly every parameter moves to a neighbouring float.
    """
    rng = np.random.default_rng([seed, copy, 0x5EED])
    return {
        k: (np.asarray(v, np.float64) * (1.0 + rel * rng.choice([-1.0, 1.0], size=np.shape(v)))).astype(np.float32)
        for k, v in weights.items()
    }


def cmd_sensitivity(args, console) -> int:
    from paritybench.commands.common import DEFAULT_RESULTS, config_from

    if args.k < 2:
        raise ParityError(f"--k {args.k}: a spread needs at least 2 copies")
    if not 0 < args.rel < 1:
        raise ParityError(f"--rel {args.rel}: give a relative perturbation between 0 and 1, e.g. 1e-7")
    cfg = replace(config_from(args, swap=False), diagnostics="light")
    if len(cfg.seeds) != 1 or len(cfg.windows) != 1:
        raise ParityError("sensitivity perturbs one initial weight set: give one --seeds and one --windows value")
    from paritybench.artifact import safeout
    from paritybench.pipeline import budget

    budget.check_sensitivity(cfg, args.k)  # memory and the output, checked and claimed first
    if args.out:
        need = budget.artifact_json_bytes(cfg, cases=args.k)
        claim = safeout.OutputClaim.explicit(safeout.plan_outputs(args.out, expected_bytes=need))
    else:
        safeout.plan_folder(DEFAULT_RESULTS, expected_bytes=budget.artifact_json_bytes(cfg, cases=args.k))
        claim = safeout.OutputClaim.default(cfg, DEFAULT_RESULTS)
    with claim:
        return _sensitivity(args, console, cfg, claim.path)


def _sensitivity(args, console, cfg, out: Path) -> int:
    from paritybench.commands.common import RichProgress
    from paritybench.experiment import flags

    flags.apply(cfg.numerics)
    from paritybench import workloads
    from paritybench.analysis import stats
    from paritybench.artifact import write_artifact
    from paritybench.experiment.weights import copy_weights, weights_sha256
    from paritybench.pipeline import runner

    seed, window = cfg.seeds[0], cfg.windows[0]
    workload = workloads.load(cfg.workload)
    base = copy_weights(
        workloads.resolve_ref(workload.model.init)(seed, cfg.threefry_partitionable), workload.model.params
    )
    cases = [runner.Case(seed, window, i) for i in range(args.k)]
    inits = {c.id: perturb(base, args.rel, seed, c.copy) for c in cases}
    prog = RichProgress(console)
    try:
        result = runner.run(cfg, prog, cases=cases, inits=inits, keep_trajectory=False)
    finally:
        prog.stop()
    summary, classes = stats.sensitivity_summary(result.runs, result.finals, cfg.n)
    artifact = runner.build_artifact(
        cfg,
        result,
        "sensitivity",
        None,
        extra={
            "perturbation": {
                "k": args.k,
                "rel": args.rel,
                "seed": seed,
                "window_start": window,
                "base_weights_sha256": weights_sha256(base),
            },
            "sensitivity": summary,
            "classes": classes,
        },
    )
    write_artifact(out, artifact)
    _print_sensitivity(console, artifact)
    console.print(f"artifact: {out}")
    return 0


def _g(v) -> str:
    return v if isinstance(v, str) else f"{v:.2g}"


def _print_sensitivity(console, artifact: dict) -> None:
    from rich.table import Table

    p = artifact["perturbation"]
    t = Table(title=f"sensitivity: {p['k']} copies of seed {p['seed']}'s weights, each perturbed by {p['rel']:g}")
    for col in ("arm", "class", "min", "max", "correct range", "distinct weights", "max |dw| vs copy 0"):
        t.add_column(col, justify="left" if col in ("arm", "class") else "right")
    for arm, s in artifact["sensitivity"].items():
        fa = s["final_accuracy"]
        t.add_row(
            arm,
            s["class"],
            f"{fa['min']:.3f}",
            f"{fa['max']:.3f}",
            str(s["correct_range"]),
            str(s["distinct_final_hashes"]),
            _g(s["max_weight_diff_vs_copy0"]),
        )
    console.print(t)


__all__ = ["add_parser", "perturb", "Checkpoint", "checkpoint_path"]
