"""``paritybench run --repeat N``: the same run N times, each in a fresh process.

A fresh process is the honest test of determinism: nothing (JIT caches, thread
pools, RNG state, oneDNN primitive caches) is carried from one repeat to the
next. Each repeat is ``python -m paritybench.studies.repeat ARGS.json``, which runs the
ordinary ``run`` command with the parsed options, writing into a temporary
folder. The parent keeps the first repeat's artifact and weights, adds a
``repeat`` section (per arm: the final-weights hash of every repeat and whether
they are all equal), and writes the result as one artifact. On CPU every arm
must be bit-identical; an arm that is not makes the command exit 1 (the
artifact is still written: the difference is the finding).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from paritybench.errors import ParityError


def repeat_section(artifacts: list[dict]) -> dict:
    """Per arm, the final-weights hash of each repeat, case by case, and whether they agree.

    ``{"count": N, "identical": bool, "arms": {arm: {"identical": bool | None, "cases":
    [{"seed", "window_start", ["copy",] "hashes": [...], "identical"}]}}}``. An arm that was
    skipped or failed in every repeat has ``identical`` null (nothing to compare); one that
    ran in some repeats only is not identical.
    """
    arms: dict[str, dict] = {}
    first = artifacts[0]["runs"]
    for run in first:
        key = (run["arm"], run["seed"], run["window_start"], run.get("copy"))
        hashes = []
        for art in artifacts:
            match = next(
                (r for r in art["runs"] if (r["arm"], r["seed"], r["window_start"], r.get("copy")) == key), None
            )
            hashes.append(match.get("final_weights_sha256") if match and match.get("status") == "ok" else None)
        ran = [h for h in hashes if h is not None]
        case: dict = {"seed": run["seed"], "window_start": run["window_start"]}
        if run.get("copy") is not None:
            case["copy"] = run["copy"]
        case["hashes"] = hashes
        case["identical"] = None if not ran else (len(ran) == len(hashes) and len(set(ran)) == 1)
        arms.setdefault(run["arm"], {"identical": None, "cases": []})["cases"].append(case)
    for entry in arms.values():
        verdicts = [c["identical"] for c in entry["cases"] if c["identical"] is not None]
        entry["identical"] = None if not verdicts else all(verdicts)
    verdicts = [a["identical"] for a in arms.values() if a["identical"] is not None]
    return {"count": len(artifacts), "identical": all(verdicts), "arms": arms}


def add_spread(section: dict, weight_files: list[Path | None]) -> None:
    """Per arm and case, ``max_abs_diff``: the largest |w_i - w_1| over every parameter and every later
    repeat i (0.0 when bit-identical; None where a repeat kept no weights). How far apart two runs of the
    same program land is the measurement a user needs next to "not bit-identical"."""
    import numpy as np

    from paritybench.commands.common import weights_group

    if any(f is None or not f.exists() for f in weight_files):
        return
    loaded = []
    for f in weight_files:
        with np.load(f, allow_pickle=False) as z:
            loaded.append({k: z[k] for k in z.files})
    for arm, entry in section["arms"].items():
        for case in entry["cases"]:
            prefix = weights_group((arm, case["seed"], case["window_start"], case.get("copy"))) + "/"
            keys = [k for k in loaded[0] if k.startswith(prefix)]
            if not keys or any(k not in w for w in loaded[1:] for k in keys):
                case["max_abs_diff"] = None
                continue
            case["max_abs_diff"] = max(_max_abs_diff(w[k], loaded[0][k]) for w in loaded[1:] for k in keys)


def _max_abs_diff(a, b) -> float:
    """max |a - b|, with NaN where both are NaN counted as equal and NaN against a number as inf."""
    import numpy as np

    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        d = np.abs(a - b)
    d[np.isnan(a) & np.isnan(b)] = 0.0
    d[np.isnan(d)] = np.inf
    return float(np.max(d)) if d.size else 0.0


def _child_args(args: argparse.Namespace, out: Path) -> dict:
    """The parsed options as JSON, for one repeat: same options, repeat 1, its own --out."""
    d = {k: v for k, v in vars(args).items() if k != "func" and not callable(v)}
    # every repeat keeps its final weights in the temporary folder, so the repeat section can say how far
    # apart two runs are, not only that they differ; the parent keeps them only without --no-weights
    d.update(repeat=1, out=str(out), no_weights=False)
    try:
        json.dumps(d)
    except TypeError as exc:  # an option that cannot travel is a bug in the option, not the user's
        raise ParityError(
            f"--repeat cannot pass the run's options to a fresh process ({exc}): report this", exit_code=3
        ) from None
    return d


def run_repeated(args: argparse.Namespace, console) -> int:
    """Run ``args`` (a parsed ``run``) ``args.repeat`` times in fresh processes; write one artifact."""
    from paritybench.commands.common import config_from
    from paritybench.commands.run import _claim_run_outputs
    from paritybench.pipeline import budget

    if args.repeat < 1:
        raise ParityError(f"--repeat {args.repeat}: must be at least 1 (2 checks run-to-run determinism)")
    cfg = config_from(args)  # every input error before the first repeat starts
    # issue 9 hook: the same memory and output checks as one run, and the path claimed, before repeat 1
    budget.check_run(cfg)
    claim = _claim_run_outputs(args, cfg)
    try:
        return _repeat(args, console, claim.path)
    finally:
        claim.release(committed=claim.path.exists())


def _repeat(args: argparse.Namespace, console, out: Path) -> int:
    from paritybench.artifact import read_artifact
    from paritybench.artifact.safeout import commit_pair
    from paritybench.procs import tmp_prefix, worker_env

    artifacts: list[dict] = []
    # The child must import this same paritybench, installed or not (as the Keras workers do).
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]) + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    with tempfile.TemporaryDirectory(prefix=tmp_prefix() + "repeat-") as tmp:
        for i in range(1, args.repeat + 1):
            rep_out = Path(tmp) / f"repeat-{i}.json"
            job = Path(tmp) / f"repeat-{i}.args.json"
            job.write_text(json.dumps(_child_args(args, rep_out)))
            console.print(f"repeat {i}/{args.repeat} (fresh process)")
            proc = subprocess.run(
                [sys.executable, "-m", "paritybench.studies.repeat", str(job)], env={**env, **worker_env(Path(tmp))}
            )
            if proc.returncode != 0:
                raise ParityError(
                    f"repeat {i} of {args.repeat} exited with status {proc.returncode} "
                    "(its error is above); no artifact was written",
                    exit_code=proc.returncode,
                )
            artifacts.append(read_artifact(rep_out))
        merged = dict(artifacts[0])
        merged["repeat"] = repeat_section(artifacts)
        add_spread(
            merged["repeat"], [Path(tmp) / a["weights_file"] if a.get("weights_file") else None for a in artifacts]
        )
        merged["repeat"]["seconds"] = [a.get("timing", {}).get("total_seconds") for a in artifacts]
        weights = None if args.no_weights else artifacts[0].get("weights_file")
        merged["weights_file"] = None
        weights_path = out.with_suffix(".weights.npz")
        writer = None
        if weights:

            def writer(dst, src=Path(tmp) / weights):
                with open(src, "rb") as fh:
                    shutil.copyfileobj(fh, dst)

            merged["weights_file"] = weights_path.name
        commit_pair(out, merged, writer, weights_path)  # issue 9: both files or neither
    console.print(f"artifact: {out}")
    rep = merged["repeat"]
    not_identical = [arm for arm, a in rep["arms"].items() if a["identical"] is False]
    for arm, a in rep["arms"].items():
        verdict = {True: "bit-identical", False: "NOT bit-identical", None: "not run"}[a["identical"]]
        spread = [c.get("max_abs_diff") for c in a["cases"] if c.get("max_abs_diff") is not None]
        if a["identical"] is False and spread:
            verdict += f" (final weights differ by up to {max(spread):.3g})"
        console.print(f"repeat x{rep['count']}: {arm}: {verdict}")
    if not_identical:
        console.print(
            f"repeat: {len(not_identical)} arm(s) not bit-identical across {rep['count']} fresh "
            f"processes: {', '.join(not_identical)}"
        )
        return 1
    return 0


def main(argv: list[str]) -> int:
    """One repeat: ``python -m paritybench.studies.repeat ARGS.json`` runs ``run`` with those options."""
    from rich.console import Console

    from paritybench.commands.run import cmd_run
    from paritybench.procs import die_with_parent, interrupted_message, orphan_cleanup

    args = argparse.Namespace(**json.loads(Path(argv[0]).read_text()))
    try:
        die_with_parent(unwind=True)  # issue 9: a killed parent takes this repeat (and its workers) with it
        return cmd_run(args, Console(width=None if sys.stdout.isatty() else 120))
    except ParityError as exc:
        print(f"paritybench: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt as exc:
        line, code = interrupted_message(exc)
        print(line, file=sys.stderr)
        orphan_cleanup()
        return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
