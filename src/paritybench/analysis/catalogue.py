"""The catalogue page: one section per workload from ``run --workload all``'s index (or from run
artifacts of several workloads): the question, the measured gap (final accuracy and loss of the
literal port(s), the fix and the reference arm on the first case), the mechanism check (Keras arm,
its JAX emulation, max |dw| after step 1, reproduced) and the fix, with the accuracy/loss plot.

Roles (port, fix) come from the workload's declaration when the caller can load it by name (``roles``:
``commands.report.workload_roles``); the numbers come only from the artifacts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from paritybench.analysis.gap_conventions import gap_lines
from paritybench.analysis.report import _first_case, plot_curves
from paritybench.artifact import unnum
from paritybench.artifact.index import read_index
from paritybench.artifact.records import CaseKey
from paritybench.artifact.safeout import write_output

# a workload name -> (arm -> role, fix arm, arm -> description)
Roles = Callable[[str], tuple[dict[str, str], str | None, dict[str, str]]]


def no_roles(name: str) -> tuple[dict[str, str], str | None, dict[str, str]]:
    """No declaration at hand: arms are listed without roles and no fix is named."""
    return {}, None, {}


def _fmt(v) -> str:
    if v is None:
        return "-"
    x = unnum(v)
    return f"{x:.4g}"


def section(a: dict, out_dir: Path, workload_roles: Roles = no_roles) -> tuple[list[str], str | None]:
    """Markdown lines for one run artifact, and the plot file written (or None)."""
    w = a["workload"]
    name = w["name"]
    roles, fix, desc = workload_roles(name)
    runs = _first_case(a)
    md = [f"## `{name}`", "", f"**Question.** {w.get('question', '')}", ""]
    first = CaseKey.of(a["runs"][0])
    md += [
        f"**Measured gap** (seed {first.seed}, window {first.window}, n {a['config']['n']}, "
        f"{a['config']['steps']} steps at lr {a['config']['lr']}):",
        "",
        "| arm | role | status | final accuracy | final loss |",
        "| --- | --- | --- | --- | --- |",
    ]
    order = sorted(runs, key=lambda arm: {"port": 0, "fix": 1, "reference": 2}.get(roles.get(arm, ""), 3))
    for arm in order:
        r = runs[arm]
        md.append(
            f"| `{arm}` | {roles.get(arm, '') or '-'} | {r['status']} | "
            f"{'-' if r['final_accuracy'] is None else f'{r["final_accuracy"]:.3f}'} | {_fmt(r['final_loss'])} |"
        )
    md.append("")

    md += gap_lines(a, {arm: runs[arm] for arm in order})  # the settings that part each arm, beside its gap
    mech = [m for m in a.get("mechanism", []) if CaseKey.of(m) == first]
    if mech:
        md += [
            "**Mechanism** (each Keras arm against its JAX emulation, each torch arm against the JAX arm it "
            "matches, from the same weights):",
            "",
            "| Keras / torch arm | JAX twin | max abs dw after step 1 | tolerance | reproduced |",
            "| --- | --- | --- | --- | --- |",
        ]
        md += [
            f"| `{m['keras_arm']}` | `{m['emulation']}` | {_fmt(m['max_abs_diff_step1'])} | {m['tolerance']:g} | "
            f"{_reproduced(m)} |"
            for m in mech
        ]
    else:
        md.append("**Mechanism:** no Keras arm with an emulation ran in this artifact.")
    md.append("")
    if fix:
        md += [f"**Fix:** `{fix}`: {desc.get(fix, '')}", ""]
    plot = f"{name}-curves.png"
    if plot_curves(a, out_dir / plot, ("accuracy", "loss"), ("training accuracy", "loss"), (False, True)):
        md += [f"![{name}: accuracy and loss per step]({plot})", ""]
        return md, plot
    return md, None


def write_catalogue(artifacts: list[dict], out_dir: Path, index: dict | None = None, roles: Roles = no_roles) -> Path:
    """catalogue.md (and one plot per workload) in ``out_dir``; return its path. ``roles``: a workload name's
    (arm -> role, fix arm, arm -> description), from its declaration (``commands.report.workload_roles``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    md = ["# paritybench catalogue", ""]
    if index is not None:
        md += ["| workload | status | seconds |", "| --- | --- | --- |"]
        md += [f"| `{e['workload']}` | {e['status']} | {e.get('seconds', '-')} |" for e in index["workloads"]]
        md += ["", f"Total: {index.get('total_seconds', '-')} s.", ""]
    for a in artifacts:
        lines, _ = section(a, out_dir, roles)
        md += lines
    path = out_dir / "catalogue.md"
    write_output(path, ("\n".join(md) + "\n").encode(), overwrite=True)
    return path


def artifacts_of_index(index_path: str | Path) -> tuple[dict, list[str]]:
    """The index and the paths of the artifacts it lists that exist (beside the index)."""
    index = read_index(index_path)
    folder = Path(index_path).parent
    paths = [str(folder / e["path"]) for e in index["workloads"] if (folder / e["path"]).exists()]
    return index, paths


def _reproduced(m: dict) -> str:
    """yes / NO, and the rule check's verdict where step 1 alone missed the tolerance but the rule did not."""
    if m.get("verdict") == "same rule; rounding growth":
        return f"yes: same rule (given the same gradient {_fmt(m['max_abs_diff_rule_step1'])}); rounding growth"
    return "yes" if m["reproduced"] else "NO"
