"""Which machine trained each run of a sweep, and ``paritybench nodes`` to split a sweep by machine.

A sweep run on one machine, sharded over a batch system or fanned out on Ray
records per run the node it ran on. In the checkpoint each run carries the
node's description; the artifact keeps one table ``nodes`` (id -> description)
and a ``node`` id per run, plus ``node_differences``: the hardware fields
(CPU model and its numeric flags, core count, devices) and software fields
(Python, package versions) in which the nodes differ, empty lists when they
all agree. The host name alone is not a difference.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from paritybench.artifact import reference_arm, unnum
from paritybench.artifact.records import CaseKey
from paritybench.experiment import environment, flags

HARDWARE_FIELDS = ("cpu", "machine", "logical_cpus", "cpu_flags", "devices")
SOFTWARE_FIELDS = ("python", "packages")


def current(numerics) -> dict:
    """This process's node: host, CPU, JAX's devices, Python and package versions.

    Imports JAX: call after ``flags.apply`` (as the sweep does).
    """
    env = environment.fingerprint()
    cpu = env["cpu"]
    return {
        "hostname": env["hostname"],
        "cpu": cpu["model"],
        "machine": cpu["machine"],
        "logical_cpus": cpu["logical_cpus"],
        "cpu_flags": sorted(f for f, on in cpu["numeric_flags"].items() if on),
        "devices": flags.read_back("jax", numerics)["devices"],
        "python": env["python"],
        "packages": env["packages"],
    }


def node_id(info: dict) -> str:
    digest = hashlib.sha256(json.dumps(info, sort_keys=True).encode()).hexdigest()[:8]
    return f"{info.get('hostname', 'node')}-{digest}"


def tagger(info: dict, on_run):
    """``on_run`` that first records ``info`` as the run's node."""

    def tag(run: dict) -> None:
        run["node"] = info
        if on_run:
            on_run(run)

    return tag


def factor(runs: list[dict], table: dict[str, dict] | None = None) -> tuple[list[dict], dict[str, dict]]:
    """Runs with node ids in place of node descriptions, and the id -> description table."""
    table = dict(table or {})
    out = []
    for r in runs:
        node = r.get("node")
        if isinstance(node, dict):
            nid = node_id(node)
            table[nid] = node
            r = {**r, "node": nid}
        out.append(r)
    return out, table


def differences(table: dict[str, dict]) -> dict[str, list[str]]:
    """The hardware and software fields whose values differ between nodes (package by package)."""
    nodes = list(table.values())
    hw = [f for f in HARDWARE_FIELDS if len({json.dumps(n.get(f), sort_keys=True) for n in nodes}) > 1]
    sw = []
    if len({n.get("python") for n in nodes}) > 1:
        sw.append("python")
    names = sorted({k for n in nodes for k in (n.get("packages") or {})})
    sw += [f"packages.{k}" for k in names if len({(n.get("packages") or {}).get(k) for n in nodes}) > 1]
    return {"hardware": hw, "software": sw}


def artifact_fields(runs: list[dict]) -> tuple[list[dict], dict]:
    """Factored runs and the artifact's ``nodes`` / ``node_differences`` (nothing when no run has a node)."""
    runs, table = factor(runs)
    if not table:
        return runs, {}
    return runs, {"nodes": table, "node_differences": differences(table)}


def split_summary(artifact: dict) -> dict[str, dict[str, dict]]:
    """Per node, per arm: runs, mean final accuracy, and mean / max |paired difference| vs the artifact's
    reference arm; for a head without classes (runs whose ``metric`` is "loss") the same of the final loss, as
    ``mean_final_loss``.

    Nodes of one sweep trained different cases, so runs are compared within a
    node (each arm against the reference on the same case), and the per-node
    figures side by side say whether the hardware changes an arm's deviation.
    """
    by_node: dict[str, dict[str, dict[CaseKey, float]]] = {}
    for r in artifact["runs"]:
        if r["status"] != "ok":
            continue
        node = r.get("node") or "(unrecorded)"
        final = unnum(r["final_loss"]) if r.get("metric") == "loss" else r["final_accuracy"]
        by_node.setdefault(node, {}).setdefault(r["arm"], {})[CaseKey.of(r)] = final
    loss = any(r.get("metric") == "loss" for r in artifact["runs"])
    mean_key = "mean_final_loss" if loss else "mean_final_accuracy"
    out: dict[str, dict[str, dict]] = {}
    for node, arms in sorted(by_node.items()):
        ref = arms.get(reference_arm(artifact), {})
        out[node] = {}
        for arm, finals in sorted(arms.items()):
            diffs = [finals[c] - ref[c] for c in finals if c in ref]
            out[node][arm] = {
                "runs": len(finals),
                mean_key: float(np.mean(list(finals.values()))),
                "paired_diff_mean": float(np.mean(diffs)) if diffs else None,
                "paired_diff_max_abs": float(np.max(np.abs(diffs))) if diffs else None,
            }
    return out
