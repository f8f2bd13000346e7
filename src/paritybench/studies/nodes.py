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

HARDWARE_FIELDS = ("cpu", "machine", "logical_cpus", "cpu_flags", "devices")
SOFTWARE_FIELDS = ("python", "packages")


def current(numerics) -> dict:
    """This process's node: host, CPU, JAX's devices, Python and package versions.

    Imports JAX: call after ``flags.apply`` (as the sweep does).
    """
    from paritybench.experiment import environment, flags

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


def split_summary(artifact: dict, reference_arm: str = "reference-f64") -> dict[str, dict[str, dict]]:
    """Per node, per arm: runs, mean final accuracy, and mean / max |paired difference| vs the reference.

    Nodes of one sweep trained different cases, so runs are compared within a
    node (each arm against the reference on the same case), and the per-node
    figures side by side say whether the hardware changes an arm's deviation.
    """
    import numpy as np

    by_node: dict[str, dict[str, dict[tuple[int, int], float]]] = {}
    for r in artifact["runs"]:
        if r["status"] != "ok":
            continue
        node = r.get("node") or "(unrecorded)"
        by_node.setdefault(node, {}).setdefault(r["arm"], {})[(r["seed"], r["window_start"])] = r["final_accuracy"]
    out: dict[str, dict[str, dict]] = {}
    for node, arms in sorted(by_node.items()):
        ref = arms.get(reference_arm, {})
        out[node] = {}
        for arm, finals in sorted(arms.items()):
            diffs = [finals[c] - ref[c] for c in finals if c in ref]
            out[node][arm] = {
                "runs": len(finals),
                "mean_final_accuracy": float(np.mean(list(finals.values()))),
                "paired_diff_mean": float(np.mean(diffs)) if diffs else None,
                "paired_diff_max_abs": float(np.max(np.abs(diffs))) if diffs else None,
            }
    return out


def cmd_nodes(args, console) -> int:
    from rich.table import Table

    from paritybench.artifact import validate_file

    if args.json:  # before anything is read: a new regular .json file, never the input (issue 21)
        from paritybench.artifact.outputs import check_output_path

        check_output_path(args.json, inputs=[args.artifact], overwrite=args.overwrite, what="--json", suffix=".json")
    art = validate_file(args.artifact)
    table = art.get("nodes") or {}
    for nid, info in table.items():
        console.print(
            f"{nid}: {info.get('hostname')}, {info.get('cpu')}, {info.get('logical_cpus')} CPUs, "
            f"devices {', '.join(info.get('devices') or [])}"
        )
    diff = art.get("node_differences") or differences(table)
    if diff.get("hardware") or diff.get("software"):
        console.print(f"nodes differ in hardware {diff['hardware'] or 'none'}, software {diff['software'] or 'none'}")
    elif len(table) > 1:
        console.print("nodes agree in hardware and software (only host names differ)")
    split = split_summary(art)
    t = Table(title="runs by node: final accuracy, and paired difference vs reference-f64 on the same case")
    for col in ("node", "arm", "runs", "mean", "diff mean", "max |diff|"):
        t.add_column(col, justify="left" if col in ("node", "arm") else "right")
    for node, arms in split.items():
        for arm, s in arms.items():
            t.add_row(
                node,
                arm,
                str(s["runs"]),
                f"{s['mean_final_accuracy']:.3f}",
                "-" if s["paired_diff_mean"] is None else f"{s['paired_diff_mean']:+.4f}",
                "-" if s["paired_diff_max_abs"] is None else f"{s['paired_diff_max_abs']:.4f}",
            )
    console.print(t)
    if args.json:
        from paritybench.artifact.outputs import write_output

        write_output(
            args.json,
            (json.dumps({"nodes": table, "node_differences": diff, "by_node": split}, indent=1) + "\n").encode(),
            overwrite=args.overwrite,
        )
    return 0


def add_parser(sub) -> None:
    """Register ``paritybench nodes``."""
    p = sub.add_parser("nodes", help="split a sweep by the machine each run trained on: hardware inside one artifact")
    p.add_argument("artifact", help="a sweep artifact (local, merged shards or Ray)")
    p.add_argument("--json", default=None, metavar="FILE", help="also write the split as JSON (a new .json file)")
    p.add_argument("--overwrite", action="store_true", help="let --json replace an existing regular file")
    p.set_defaults(func=cmd_nodes)
