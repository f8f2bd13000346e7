"""``paritybench run --repeat N``: the same run N times, each in a fresh process.

A fresh process is the honest test of determinism: nothing (JIT caches, thread
pools, RNG state, oneDNN primitive caches) is carried from one repeat to the
next. Each repeat is ``python -m paritybench.commands.run ARGS.json``, which runs the
ordinary ``run`` command with the parsed options, writing into a temporary
folder (``commands.run``). The parent keeps the first repeat's artifact and weights, adds a
``repeat`` section (per arm: the final-weights hash of every repeat and whether
they are all equal), and writes the result as one artifact. On CPU every arm
must be bit-identical; an arm that is not makes the command exit 1 (the
artifact is still written: the difference is the finding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from paritybench.artifact.records import RunKey


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
        key = RunKey.of(run)
        hashes = []
        for art in artifacts:
            match = next((r for r in art["runs"] if RunKey.of(r) == key), None)
            hashes.append(match.get("final_weights_sha256") if match and match.get("status") == "ok" else None)
        ran = [h for h in hashes if h is not None]
        case: dict = {**key.case_fields(), "hashes": hashes}
        case["identical"] = None if not ran else (len(ran) == len(hashes) and len(set(ran)) == 1)
        arms.setdefault(key.arm, {"identical": None, "cases": []})["cases"].append(case)
    for entry in arms.values():
        verdicts = [c["identical"] for c in entry["cases"] if c["identical"] is not None]
        entry["identical"] = None if not verdicts else all(verdicts)
    verdicts = [a["identical"] for a in arms.values() if a["identical"] is not None]
    return {"count": len(artifacts), "identical": all(verdicts), "arms": arms}


def add_spread(section: dict, weight_files: list[Path | None]) -> None:
    """Per arm and case, ``max_abs_diff``: the largest |w_i - w_1| over every parameter and every later
    repeat i (0.0 when bit-identical; None where a repeat kept no weights). How far apart two runs of the
    same program land is the measurement a user needs next to "not bit-identical"."""
    if any(f is None or not f.exists() for f in weight_files):
        return
    loaded = []
    for f in weight_files:
        with np.load(f, allow_pickle=False) as z:
            loaded.append({k: z[k] for k in z.files})
    for arm, entry in section["arms"].items():
        for case in entry["cases"]:
            prefix = RunKey.of(case, arm=arm).group + "/"
            keys = [k for k in loaded[0] if k.startswith(prefix)]
            if not keys or any(k not in w for w in loaded[1:] for k in keys):
                case["max_abs_diff"] = None
                continue
            case["max_abs_diff"] = max(_max_abs_diff(w[k], loaded[0][k]) for w in loaded[1:] for k in keys)


def _max_abs_diff(a, b) -> float:
    """max |a - b|, with NaN where both are NaN counted as equal and NaN against a number as inf."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    with np.errstate(invalid="ignore"):
        d = np.abs(a - b)
    d[np.isnan(a) & np.isnan(b)] = 0.0
    d[np.isnan(d)] = np.inf
    return float(np.max(d)) if d.size else 0.0
