"""Sweeps split over machines: ``paritybench sweep --shard I/N`` and ``paritybench merge``.

The unit of work is a *case* (one seed on one window) with every arm of the
sweep. Cases are not split by arm because a case's diagnostics need its arms
together: the full diagnostics measure every arm against the float64
reference's trajectory of the same case, and the mechanism check pairs each
Keras arm with its JAX emulation on the same case. Training a case alone or
with others gives the same bits (the JAX arms' vmapped batches are per window
and each copy is computed independently, which the resume test already pins),
so any partition gives runs bit-identical to the unsharded sweep.

Partition: cases in window-major order (window, then seed), cut into N
contiguous pieces of (nearly) equal estimated cost. A case costs the sum of
its arms' measured per-run training seconds (``ARM_COST_SECONDS``, from the
committed CPU sweep baseline): Keras-on-TensorFlow and the float64 reference
cost several JAX runs each. When every case carries the same arms (a fresh
sweep), the cost cut is a count cut: shard sizes differ by at most one case.
The costs matter where cases differ (a resumed Ray sweep, whose finished arms
cost nothing) and for estimating wall time. Contiguous window-major pieces keep
each shard's seeds of one window together, so the JAX arms compile few batch
shapes and train large vmapped batches.

Shard I of N (0-based, as Kubernetes' JOB_COMPLETION_INDEX and a Slurm array
``--array=0-(N-1)``) writes an ordinary sweep artifact of kind ``sweep-shard``
with a ``shard`` object (index, count, grid hash, its cases). ``merge`` checks
the shards are of one sweep (same config, data sha256 and grid hash; no shard
twice, no run twice, none missing) and writes the ``sweep`` artifact the
unsharded sweep would have written, with the same summary.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from pathlib import Path

from paritybench import workloads
from paritybench.arms.registry import kind_of
from paritybench.artifact import build_artifact, reference_arm, validate_file
from paritybench.artifact.records import CaseKey, RunKey
from paritybench.errors import ParityError
from paritybench.pipeline import runner
from paritybench.studies import grid, nodes
from paritybench.studies.checkpoint import config_from_header

# Mean training seconds per run on the 2-core CPU of results/baselines/sweep-cpu.json, by where an
# arm trains (its kind, or its Keras backend's process): the cost model knows no workload's arm names.
# (`shard.measured_arm_costs` recomputes them; tests/test_shard.py pins this table to it.)
# The JAX arms' figure is their vmapped batch's time divided by its copies (the seed's five JAX arms
# measured 0.174-0.193 s; their mean is the figure).
ARM_COST_SECONDS: dict[str, float] = {
    "jax": 0.181,
    "f64": 0.476,
    "keras-tensorflow": 1.188,
    "keras-jax": 0.292,
    # not measured (torch was not installed for the baseline): assumed as dear as keras-tensorflow
    "keras-torch": 1.188,
}
DEFAULT_ARM_COST = max(ARM_COST_SECONDS.values())
SHARD_KIND = "sweep-shard"


def cost_class(workload, arm: str) -> str:
    """Where an arm trains, as the cost table keys it: ``jax``, ``f64`` or its Keras process."""
    spec = workload.arm(arm)
    return kind_of(spec).cost_class(spec)


def measured_arm_costs(artifact: dict) -> dict[str, float]:
    """Mean ``info.train_seconds`` of the finished runs in a sweep artifact, by cost class."""
    workload = workloads.load((artifact.get("workload") or {}).get("name"))  # schema 1: seed-bce
    sums: dict[str, list[float]] = {}
    for r in artifact["runs"]:
        if r["status"] == "ok" and "train_seconds" in r.get("info", {}):
            sums.setdefault(cost_class(workload, r["arm"]), []).append(float(r["info"]["train_seconds"]))
    return {key: sum(v) / len(v) for key, v in sums.items()}


def arm_cost(workload, arm: str) -> float:
    return ARM_COST_SECONDS.get(cost_class(workload, arm), DEFAULT_ARM_COST)


def parse_shard(text: str) -> tuple[int, int]:
    """``"I/N"`` -> (I, N) with 0 <= I < N."""
    try:
        i, n = (int(p) for p in text.split("/"))
    except ValueError:
        raise ParityError(f"--shard {text!r}: give INDEX/COUNT with a 0-based index, e.g. --shard 0/4") from None
    if n < 1 or not 0 <= i < n:
        raise ParityError(f"--shard {text!r}: the index must be 0 to COUNT-1 (0-based), e.g. --shard 0/{max(n, 1)}")
    return i, n


def grid_sha256(cfg) -> str:
    """What makes two shards parts of one sweep: the whole config but where the data file lives."""
    d = cfg.to_dict()
    d.pop("data_path")
    d.pop("step_timeout", None)  # a time limit, not part of what is computed
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()


def partition(cases: Iterable, cost: Callable[[object], float], count: int) -> list[list]:
    """Cut ``cases`` (window-major) into ``count`` contiguous pieces of nearly equal ``cost``.

    A case goes to the piece its cost's midpoint falls in. Costs are rounded to
    whole microseconds so the cut is exact integer arithmetic: the same on
    every machine and Python. With equal costs and at least ``count`` cases every
    piece gets floor or ceil of cases/count.
    """
    ordered = sorted(cases, key=lambda c: (c.window, c.seed, -1 if c.copy is None else c.copy))
    weights = [max(1, round(cost(c) * 1e6)) for c in ordered]
    total = sum(weights)
    pieces: list[list] = [[] for _ in range(count)]
    cum = 0
    for c, w in zip(ordered, weights, strict=True):
        pieces[min(count - 1, (2 * cum + w) * count // (2 * total))].append(c)
        cum += w
    return pieces


def case_cost(cfg) -> Callable[[object], float]:
    workload = workloads.load(cfg.workload)
    per_case = sum(arm_cost(workload, a) for a in cfg.arms)
    return lambda _case: per_case


def shard_cases(cfg, index: int, count: int) -> list:
    """The cases of shard ``index`` of ``count`` (refused when the grid has fewer cases than shards)."""
    cases = runner.default_cases(cfg)
    if count > len(cases):
        raise ParityError(
            f"--shard {index}/{count}: the grid has only {len(cases)} cases (seeds x windows); "
            f"use at most {len(cases)} shards"
        )
    return partition(cases, case_cost(cfg), count)[index]


def header_fields(shard: str | None, cfg) -> dict:
    """The checkpoint header's ``shard`` entry for ``--shard I/N`` (checked before training starts)."""
    if not shard:
        return {}
    index, count = parse_shard(shard)
    shard_cases(cfg, index, count)  # refuse too many shards now, not after the first shard trained
    return {"shard": {"index": index, "count": count, "grid_sha256": grid_sha256(cfg)}}


def cases_from_header(header: dict, cfg) -> list | None:
    """The cases a (possibly resumed) sweep trains: its shard's, or None for the whole grid."""
    s = header.get("shard")
    if not s:
        return None
    if s["grid_sha256"] != grid_sha256(cfg):
        raise ParityError(
            "checkpoint's shard grid hash does not match its config: the checkpoint is damaged; "
            "delete it and start the shard again"
        )
    return shard_cases(cfg, s["index"], s["count"])


def artifact_fields(header: dict, cfg) -> tuple[str, dict]:
    """The artifact's kind and its ``shard`` object (kind ``sweep`` and nothing for a whole sweep)."""
    s = header.get("shard")
    if not s:
        return "sweep", {}
    cases = shard_cases(cfg, s["index"], s["count"])
    cost = case_cost(cfg)
    return SHARD_KIND, {
        "shard": {
            **s,
            "unit": "case",
            "cases": [[c.seed, c.window] for c in cases],
            "estimated_train_seconds": round(sum(cost(c) for c in cases), 3),
        }
    }


# ---------------------------------------------------------------- merge


def _config_key(config: dict) -> dict:
    """An artifact's config without where its data file lived (machines differ in paths)."""
    c = {k: v for k, v in config.items() if k not in ("data_path", "data")}
    c["data_expected_sha256"] = (config.get("data") or {}).get("expected_sha256")
    return c


def _first_difference(a: dict, b: dict) -> str:
    for k in sorted(set(a) | set(b)):
        if a.get(k) != b.get(k):
            return f"{k} ({a.get(k)!r} vs {b.get(k)!r})"
    return "?"


def merge_shards(paths: list[str]) -> dict:
    """Check ``paths`` are the shards of one sweep and build the whole sweep's artifact."""
    if len(paths) < 1:
        raise ParityError("merge needs the shard artifacts: paritybench merge A.json B.json ... --out SWEEP.json")
    shards = []
    for p in paths:
        a = validate_file(p)
        if a.get("kind") != SHARD_KIND or "shard" not in a:
            raise ParityError(
                f"{p} is a {a.get('kind', 'run')} artifact, not a sweep shard: pass the artifacts "
                "written by paritybench sweep --shard I/N"
            )
        shards.append((p, a))
    p0, a0 = shards[0]
    s0, key0 = a0["shard"], _config_key(a0["config"])
    data0 = a0["environment"].get("data", {}).get("sha256")
    for p, a in shards[1:]:
        if (a["workload"]["name"], a["workload"]["version"]) != (a0["workload"]["name"], a0["workload"]["version"]):
            raise ParityError(
                f"{p} is a shard of workload {a['workload']['name']} and {p0} of "
                f"{a0['workload']['name']}: merge the shards of one sweep"
            )
        ha, h0 = a["workload"].get("sha256"), a0["workload"].get("sha256")
        if ha != h0:  # one name and version, two contents: the workload was edited between the shards
            raise ParityError(
                f"{p} was trained on workload {a['workload']['name']} with sha256 {ha} and {p0} with {h0}: "
                "not shards of one sweep; re-run the shards with one version of the workload"
            )
        key = _config_key(a["config"])
        if key != key0:
            raise ParityError(
                f"{p} and {p0} are not shards of one sweep: config differs in {_first_difference(key0, key)}"
            )
        if a["shard"]["count"] != s0["count"]:
            raise ParityError(
                f"{p} is a shard of {a['shard']['count']} and {p0} of {s0['count']}: merge the shards of one split"
            )
        if a["shard"]["grid_sha256"] != s0["grid_sha256"]:
            raise ParityError(f"{p} and {p0} have different grid hashes: they are not shards of one sweep")
        data = a["environment"].get("data", {}).get("sha256")
        if data != data0:
            raise ParityError(f"{p} trained on data sha256 {data} and {p0} on {data0}: not shards of one sweep")
    cfg = config_from_header({"config": {k: v for k, v in a0["config"].items() if k != "data"}})
    if grid_sha256(cfg) != s0["grid_sha256"]:
        raise ParityError(f"{p0}: its shard grid hash does not match its config: the artifact was edited")
    count = s0["count"]
    by_index: dict[int, str] = {}
    for p, a in shards:
        i = a["shard"]["index"]
        if i in by_index:
            raise ParityError(f"shard {i}/{count} given twice ({by_index[i]} and {p}): pass each shard once")
        by_index[i] = p
    missing = [i for i in range(count) if i not in by_index]
    if missing:
        raise ParityError(
            f"missing shard(s) {', '.join(map(str, missing))} of {count}: run "
            f"`paritybench sweep --shard {missing[0]}/{count} ...` with the same options, then merge "
            "all of them"
        )
    seen: dict[RunKey, str] = {}
    all_runs: list[dict] = []
    for p, a in shards:
        expected = {c.key(arm) for c in shard_cases(cfg, a["shard"]["index"], count) for arm in cfg.arms}
        got = set()
        for r in a["runs"]:
            k = RunKey.of(r)
            if k in seen:
                raise ParityError(f"run {k.label} is in both {seen[k]} and {p}: the shards overlap")
            seen[k] = p
            got.add(k)
            all_runs.append(r)
        if got != expected:
            lack = sorted(expected - got)
            raise ParityError(
                f"{p} is not shard {a['shard']['index']}/{count} of this sweep: "
                + (
                    f"it lacks {len(lack)} run(s), e.g. {lack[0].label}"
                    if lack
                    else f"it has {len(got - expected)} run(s) of other shards"
                )
            )
    runs = grid.merge_runs(cfg, all_runs, [])
    ordered = sorted(shards, key=lambda pa: pa[1]["shard"]["index"])
    windows_info = ordered[0][1].get("windows_info") or {}
    majority = {int(w): v["majority_rate"] for w, v in windows_info.items()}
    timing = _sum_timing([a["timing"] for _, a in ordered])
    environment = dict(ordered[0][1]["environment"])

    node_table: dict[str, dict] = {}
    for _, a in ordered:
        node_table.update(a.get("nodes") or {})
    order = {(c.seed, c.window): i for i, c in enumerate(runner.default_cases(cfg))}
    mechanism = sorted((m for _, a in ordered for m in a.get("mechanism", [])), key=lambda m: order[CaseKey.of(m)])
    extra: dict = {
        **grid.summary_extra(runs, majority, reference_arm(a0)),
        **({"windows_info": windows_info} if windows_info else {}),
        "resumed": any(a.get("resumed") for _, a in ordered),
    }
    if node_table:
        extra["nodes"] = node_table
        extra["node_differences"] = nodes.differences(node_table)
    extra["merged_from"] = {
        "count": count,
        "grid_sha256": s0["grid_sha256"],
        "shards": [
            {
                "index": a["shard"]["index"],
                "file": Path(p).name,
                "created_at": a["created_at"],
                "hostname": a["environment"].get("hostname"),
                "total_seconds": a["timing"].get("total_seconds"),
            }
            for p, a in ordered
        ],
    }
    return build_artifact(
        kind="sweep",
        config_hash=a0.get("config_hash"),
        workload=a0["workload"],
        reference_arm=reference_arm(a0),
        config=a0["config"],
        environment=environment,
        timing=timing,
        runs=runs,
        mechanism=mechanism,
        extra=extra,
        schema_version=a0["schema_version"],
        paritybench_version=a0.get("paritybench_version"),
    )


def _sum_timing(timings: list[dict]) -> dict:
    """Seconds summed over shards (machine time); the slowest shard's total is the wall time."""
    out: dict = {}
    for k in ("train_seconds", "compile_seconds", "diagnostics_seconds", "total_seconds"):
        out[k] = sum(float(t.get(k, 0.0)) for t in timings)
    out["process_seconds"] = {}
    for t in timings:
        for proc, s in (t.get("process_seconds") or {}).items():
            out["process_seconds"][proc] = out["process_seconds"].get(proc, 0.0) + float(s)
    out["wall_seconds"] = max(float(t.get("total_seconds", 0.0)) for t in timings)
    return out
