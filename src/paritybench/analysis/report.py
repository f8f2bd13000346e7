"""``paritybench report``: report.md, PNG plots and report.html that answer "why do the runs differ?".

Every sentence of the opening answer is generated from the artifacts' numbers
(which arm, which fraction, which step), never canned: when the data show no
gap, the text says so.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from paritybench.analysis import report_html, report_table
from paritybench.analysis.gap_conventions import gap_lines
from paritybench.artifact import check_artifact_file, reference_arm, unnum, upgrade
from paritybench.artifact.records import RunKey
from paritybench.artifact.safeout import check_output_dir, check_output_path, write_output
from paritybench.errors import ParityError
from paritybench.experiment import heads

# Arms in the order the artifacts of one report list them (the workload's declaration order), learnt as ``load``
# reads them; each ``load`` starts afresh, so a report's order never depends on what an earlier one in the same
# process read (a notebook, a test worker).
_ARM_ORDER: dict[str, int] = {}


def _learn_order(artifact: dict) -> None:
    for r in artifact.get("runs", []):
        _ARM_ORDER.setdefault(r["arm"], len(_ARM_ORDER))


def _order(arms) -> list[str]:
    return sorted(arms, key=lambda a: _ARM_ORDER.get(a, len(_ARM_ORDER)))


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _scored(a: dict) -> tuple[str, int]:
    """What the run's ``correct`` counts and how many of them a window holds: ``("sample", n)`` for MNIST and one
    label or class per sample; ``("label", n * k)`` for a multi-label sigmoid head, ``("position", n * T)`` for a
    sequence softmax head (``experiment.heads``), from the targets' shape and dtype the artifact records."""
    n = a["config"]["n"]
    d = (a.get("environment") or {}).get("data") or {}
    head = (a.get("workload") or {}).get("head")
    if head not in heads.ABSENT or "y_shape" not in d:
        return "sample", n
    shape = (n, *d["y_shape"][1:])
    return heads.UNIT[heads.targets(head, shape, np.dtype(d["y_dtype"]))], heads.scored(
        head, shape, np.dtype(d["y_dtype"])
    )


def _variant(a: dict) -> str:
    return "normalized" if a["config"]["normalize"] else "raw"


def _data(a: dict) -> str:
    """What ``a`` trained on, in the report's sentences, captions and titles (``report_table.data_words``)."""
    return report_table.data_words(a)


def load(paths: list[str]) -> list[dict]:
    out = []
    _ARM_ORDER.clear()
    for p in paths:
        a = check_artifact_file(p, exit_code=2)  # the same definition and message as validate and compare
        a = upgrade(a)  # schema 1: the seed-bce workload
        a["_path"] = str(p)
        a["_sha256"] = hashlib.sha256(Path(p).read_bytes()).hexdigest()  # the provenance of report.html
        _learn_order(a)
        out.append(a)
    return out


def _first_case(a: dict) -> dict[str, dict]:
    """Runs of the artifact's first (seed, window, copy), by arm."""
    first = RunKey.of(a["runs"][0])
    return {r["arm"]: r for r in a["runs"] if RunKey.of(r, arm=first.arm) == first}


# ---------------------------------------------------------------- the answer


def _metric(a: dict) -> str:
    """The run's metric: ``loss`` for a head without classes (the runs say ``metric``), else ``accuracy``."""
    return "loss" if any(r.get("metric") == "loss" for r in a["runs"]) else "accuracy"


def answer_from_loss_run(a: dict) -> list[str]:
    """One run artifact's first case when its metric is the loss (a linear head): each arm's final loss beside
    the float64 arbiter's, with the relative difference and the final distance from the arbiter's weights."""
    runs = {k: v for k, v in _first_case(a).items() if v["status"] == "ok"}
    ref_name = reference_arm(a) if reference_arm(a) in runs else None
    where = (
        f"seed {a['runs'][0]['seed']}, window {a['runs'][0]['window_start']}, {_data(a)}, "
        f"{a['config']['steps']} steps at lr {a['config']['lr']}"
    )
    head = f"**Metric: the loss** ({where}; the head is linear, so there is no accuracy)"
    if ref_name is None:
        finals = ", ".join(f"`{x}` {unnum(runs[x]['final_loss']):.6g}" for x in _order(runs))
        return [f"{head}: final loss {finals}; no float64 arbiter ran, so none is measured against it."]
    ref = unnum(runs[ref_name]["final_loss"])
    parts = []
    for arm in _order(runs):
        if arm == ref_name:
            continue
        loss = unnum(runs[arm]["final_loss"])
        rel = abs(loss - ref) / abs(ref) if ref else float("nan")
        dist = runs[arm]["curves"].get("weight_distance")
        parts.append(
            f"`{arm}` {loss:.6g} (relative difference {rel:.2g}"
            + (f", final weights {unnum(dist[-1]):.2g} from the arbiter's" if dist else "")
            + ")"
        )
    return [f"{head}: `{ref_name}` (float64) ends at loss {ref:.6g}; " + "; ".join(parts) + "."]


def answer_from_run(a: dict) -> list[str]:
    """Sentences explaining one run artifact's first case, each with its figures; then a sentence for each arm whose
    own train step returned a loss that is not paritybench's at the same weights (``report_table.user_step_lines``)."""
    return _answer_from_run(a) + [f"**Your train step**: {line}." for line in report_table.user_step_lines(a)]


def _answer_from_run(a: dict) -> list[str]:
    if _metric(a) == "loss":
        return answer_from_loss_run(a)
    runs = {k: v for k, v in _first_case(a).items() if v["status"] == "ok"}
    unit, n = _scored(a)  # n: the samples (labels, positions) a window's correct count is out of
    lines: list[str] = []
    ref_arm = reference_arm(a)
    ref = runs.get(ref_arm)
    if ref is None:
        return [f"This artifact has no `{ref_arm}` run, so no arm can be measured against the ground truth."]
    target = ref["curves"]["correct"][-1]
    # arms more than one sample (label, position) from the arbiter, below it ("fall short") or above it ("end above")
    short = {arm: r for arm, r in runs.items() if abs(target - r["curves"]["correct"][-1]) > 1}
    level = [arm for arm, r in runs.items() if abs(target - r["curves"]["correct"][-1]) <= 1]
    where = (
        f"seed {RunKey.of(ref).seed}, window {RunKey.of(ref).window}, {_data(a)}, "
        f"{a['config']['steps']} steps at lr {a['config']['lr']}"
    )
    if not short:
        lines.append(
            f"**No gap** ({where}): every arm ends within one {unit} of `{ref_arm}`'s "
            f"{ref['final_accuracy']:.3f} ({', '.join(f'`{x}`' for x in _order(runs))})."
        )
        return lines

    def listed(arms) -> str:
        return ", ".join(f"`{arm}` {runs[arm]['final_accuracy']:.3f}" for arm in _order(arms))

    below = [x for x in short if runs[x]["curves"]["correct"][-1] < target]
    above = [x for x in short if runs[x]["curves"]["correct"][-1] > target]
    parts = ([f"{listed(below)} fall short"] if below else []) + ([f"{listed(above)} end above it"] if above else [])
    lines.append(
        f"**The gap** ({where}): `{ref_arm}` (float64) ends at {ref['final_accuracy']:.3f}; "
        + "; ".join(parts)
        + f"; {', '.join(f'`{x}`' for x in _order(level) if x != ref_arm)} match it within one "
        f"{unit}."
    )
    lines.append("")
    sat = ref["curves"].get("saturated_logit")
    # the saturation story explains a gap only where an arm that parts gives up on misclassified samples
    gave_up = any(unnum((r["curves"].get("dead_misclassified") or [0])[0]) > 0 for r in short.values())
    if sat and gave_up:
        softmax = (a.get("workload") or {}).get("head") == "softmax"
        # The two sides of |z| > 16.6 differ: above, float32 rounds the probability to exactly 1; below,
        # it is under 6e-8 and exactly 0 only past exp's overflow (z < -88.7; -87.3 under XLA on a CPU,
        # which flushes subnormals). A clip at 1e-7 moves both, and its gradient is zero for both.
        what = (
            "have a gap of more than 16.6 between their top two logits, where float32's softmax gives every "
            "other class less than 6e-8, below the 1e-7 a clip keeps"
            if softmax
            else "have |logit| > 16.6: above +16.6 float32's sigmoid is exactly 1; below -16.6 it is under "
            "6e-8, and exactly 0 only below -88.7"
        )
        lines.append(f"**Why:** at step 0, {_pct(unnum(sat[0]))} of the {n} {unit}s {what}.")
        own = next((x for x in _order(short) if short[x]["curves"].get("saturated_output")), None)
        if own is not None:
            exact = unnum(short[own]["curves"]["saturated_output"][0])
            lines[-1] += (
                f" In `{own}`'s float32, {_pct(exact)} of the {unit}s have a probability of exactly 0 or 1"
                + (" in some class" if softmax else " and the rest of them a tiny one")
                + ": a loss that sees only the probabilities cannot tell how wrong they are, and a clip "
                f"gives every {unit} it moves exactly zero gradient."
            )
        lines.append("")
    for arm in _order(short):
        r = short[arm]
        c = r["curves"]
        if r["any_nonfinite"]:
            first = r["first_nonfinite_step"]
            loss0 = c["loss"][0]
            lines.append(
                f"- `{arm}`: its loss is {loss0 if isinstance(loss0, str) else f'{loss0:.3g}'} at step 0 "
                f"and its weights or loss are non-finite from step {first}; a NaN network predicts one "
                f"class, hence {r['final_accuracy']:.3f}."
            )
            continue
        if "dead_misclassified" not in c:
            lines.append(f"- `{arm}` ends at {r['final_accuracy']:.3f} (no per-step diagnostics recorded).")
            continue
        dead0, mis0 = unnum(c["dead_gradient"][0]), unnum(c["dead_misclassified"][0])
        peak = max(range(len(c["dead_misclassified"])), key=lambda i: unnum(c["dead_misclassified"][i]))
        s = (
            f"- `{arm}`: its own loss gives exactly zero gradient to {_pct(dead0)} of the {unit}s at step 0; "
            f"{_pct(mis0)} of all {unit}s are misclassified yet get none (peak "
            f"{_pct(unnum(c['dead_misclassified'][peak]))} at step {peak})"
        )
        if "grad_cosine" in c:
            s += (
                f"; its step-0 gradient has cosine {unnum(c['grad_cosine'][0]):.3f} with the float64 gradient "
                f"at the same weights (relative error {unnum(c['grad_rel_error'][0]):.2f})"
            )
        lines.append(s + ".")
    good = [arm for arm in _order(level) if arm != ref_arm and "dead_misclassified" in runs[arm]["curves"]]
    if good:
        g = runs[good[0]]["curves"]
        lines.append(
            f"- By contrast `{good[0]}` leaves {_pct(unnum(g['dead_misclassified'][0]))} of the {unit}s "
            "misclassified without gradient at step 0"
            + (
                f", and its gradient has cosine {unnum(g['grad_cosine'][0]):.4f} with the float64 one."
                if "grad_cosine" in g
                else "."
            )
        )
    for m in a.get("mechanism", []):
        d1, dn = unnum(m["max_abs_diff_step1"]), unnum(m["max_abs_diff_final"])
        twin = "the JAX arm it matches" if m.get("framework") == "torch" else "its JAX emulation"
        if m.get("verdict") == "same rule; rounding growth":
            lines.append(
                f"- **Mechanism reproduced (same rule; rounding growth):** `{m['keras_arm']}` and {twin} "
                f"`{m['emulation']}` differ by {d1:.2g} after step 1 from their own gradients (above "
                f"{m['tolerance']:g}), but by {unnum(m['max_abs_diff_rule_step1']):.2g} when `{m['emulation']}`'s "
                "rule is given the same weights and gradient: the same update rule, amplifying the two "
                "gradients' rounding."
            )
        elif m["reproduced"]:
            lines.append(
                f"- **Mechanism reproduced:** `{m['keras_arm']}` and {twin} `{m['emulation']}` "
                f"differ by at most {d1:.2g} in any weight after step 1 (tolerance {m['tolerance']:g}) "
                f"and {dn:.2g} after the last step."
            )
        else:
            rule = m.get("max_abs_diff_rule_step1")
            given = "" if rule is None else f", {unnum(rule):.2g} given the same gradient"
            lines.append(
                f"- `{m['keras_arm']}` is *not* reproduced by `{m['emulation']}` ({d1:.2g} after step 1{given}, "
                f"above {m['tolerance']:g}): no mechanism is claimed for it."
            )
    return lines


def _loss_study(a: dict) -> bool:
    """A sweep or sensitivity study of a head without classes: it summarised the final loss (``criterion``)."""
    return (a.get("criterion") or {}).get("metric") == "loss"


def _timing_line(a: dict) -> list[str]:
    t = a.get("timing", {})
    if not t.get("total_seconds"):
        return []
    return [
        f"- Time: {t['train_seconds']:.0f} s of {t['total_seconds']:.0f} s were training steps "
        f"({_pct(t['train_seconds'] / t['total_seconds'])}); compile "
        f"{t.get('compile_seconds', 0):.0f} s, diagnostics {t.get('diagnostics_seconds', 0):.0f} s, "
        "the rest is process start, data and writing."
    ]


def answer_from_loss_sweep(a: dict) -> list[str]:
    """A sweep of a head without classes: each arm's final-loss distribution and its paired difference against
    the reference, then the criterion in the artifact's own words."""
    cfg = a["config"]
    total = len(cfg["seeds"]) * len(cfg["windows"])
    ref_arm = reference_arm(a)
    lines = [
        f"Over {len(cfg['seeds'])} seeds x {len(cfg['windows'])} windows ({total} runs per arm, {_data(a)}), "
        "**metric: the final loss** (the head is linear, so there is no accuracy):"
    ]
    for arm in _order(a["summary"]):
        fl = {k: unnum(v) for k, v in a["summary"][arm]["final_loss"].items()}
        pd = a["summary"][arm].get("paired_diff_vs_reference")
        lines.append(
            f"- `{arm}`: final loss {fl['mean']:.6g} ± {fl['std']:.3g} (min {fl['min']:.6g}, max {fl['max']:.6g}, "
            f"{int(fl['count'])} runs)"
            + (f"; {unnum(pd['mean']):+.3g} on average against `{ref_arm}` on the same seed and window" if pd else "")
            + "."
        )
    return lines + [f"- Criterion: {a['criterion']['text']}."] + _timing_line(a)


def answer_from_sweep(a: dict) -> list[str]:
    if _loss_study(a):
        return answer_from_loss_sweep(a)
    s = a["summary"]
    cfg = a["config"]
    total = len(cfg["seeds"]) * len(cfg["windows"])
    lines = [f"Over {len(cfg['seeds'])} seeds x {len(cfg['windows'])} windows ({total} runs per arm, {_data(a)}):"]
    ref_arm = reference_arm(a)
    for arm in _order(s):
        st = s[arm]
        fa = st["final_accuracy"]
        nc = st["near_chance"]
        pd = st.get("paired_diff_vs_reference")
        lines.append(
            f"- `{arm}`: final accuracy {fa['mean']:.3f} ± {fa['std']:.3f} (min {fa['min']:.3f}, "
            f"max {fa['max']:.3f}); near chance in {nc['count']} of {fa['count']} runs "
            f"({_pct(nc['fraction'])})"
            + (f"; {pd['mean']:+.3f} on average against `{ref_arm}` on the same seed and window" if pd else "")
            + "."
        )
    t = a.get("timing", {})
    if t.get("total_seconds"):
        lines.append(
            f"- Time: {t['train_seconds']:.0f} s of {t['total_seconds']:.0f} s were training steps "
            f"({_pct(t['train_seconds'] / t['total_seconds'])}); compile "
            f"{t.get('compile_seconds', 0):.0f} s, diagnostics {t.get('diagnostics_seconds', 0):.0f} s, "
            "the rest is process start, data and writing."
        )
    return lines


def answer_from_sensitivity(a: dict) -> list[str]:
    p = a["perturbation"]
    stable = [x for x in _order(a["classes"]) if a["classes"][x] == "stable"]
    chaotic = [x for x in _order(a["classes"]) if a["classes"][x] == "chaotic"]
    lines = [f"Perturbing seed {p['seed']}'s initial weights by a relative {p['rel']:g} ({p['k']} copies, {_data(a)}):"]
    if _loss_study(a):
        sens = a["sensitivity"]
        if stable:
            lines.append(
                "- stable: "
                + ", ".join(
                    f"`{x}` (final loss {unnum(sens[x]['final_loss']['min']):.6g}, spread "
                    f"{unnum(sens[x]['loss_spread']):.2g})"
                    for x in stable
                )
                + "."
            )
        if chaotic:
            lines.append(
                "- chaotic: "
                + ", ".join(
                    f"`{x}` final loss anywhere from {unnum(sens[x]['final_loss']['min']):.6g} to "
                    f"{unnum(sens[x]['final_loss']['max']):.6g}"
                    for x in chaotic
                )
                + ". A single run of these arms is one draw from that range: compare them as distributions."
            )
        return lines + [f"- Criterion: {a['criterion']['text']}."]
    if stable:
        lines.append(
            "- stable (every copy within one sample): "
            + ", ".join(f"`{x}` ({a['sensitivity'][x]['final_accuracy']['min']:.3f})" for x in stable)
            + "."
        )
    if chaotic:
        lines.append(
            "- chaotic: "
            + ", ".join(
                f"`{x}` anywhere from {a['sensitivity'][x]['final_accuracy']['min']:.3f} to "
                f"{a['sensitivity'][x]['final_accuracy']['max']:.3f}"
                for x in chaotic
            )
            + ". A single run of these arms is one draw from that range: compare them as distributions."
        )
    return lines


def answer_normalization(sweeps: list[dict]) -> list[str]:
    by = {_variant(a): a for a in sweeps}
    if set(by) != {"raw", "normalized"}:
        return []
    ref_arm = reference_arm(by["raw"])
    lines = [f"Raw 0-255 pixels against pixels scaled to [0, 1] (mean paired difference against `{ref_arm}`):"]
    for arm in _order(set(by["raw"]["summary"]) & set(by["normalized"]["summary"])):
        r = by["raw"]["summary"][arm].get("paired_diff_vs_reference")
        q = by["normalized"]["summary"][arm].get("paired_diff_vs_reference")
        if r and q:
            lines.append(f"- `{arm}`: {r['mean']:+.3f} raw, {q['mean']:+.3f} normalized.")
    return lines


# ---------------------------------------------------------------- plots


def _plt():
    import matplotlib  # late: matplotlib: loaded only where a figure is drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # late: matplotlib: loaded only where a figure is drawn

    return plt


def _series(values) -> list[float]:
    return [unnum(v) for v in values]


def plot_curves(a: dict, path: Path, names: tuple[str, ...], titles: tuple[str, ...], log: tuple[bool, ...]) -> bool:
    runs = {k: v for k, v in _first_case(a).items() if v["status"] == "ok" and all(n in v["curves"] for n in names)}
    if not runs:
        return False
    plt = _plt()
    fig, axes = plt.subplots(1, len(names), figsize=(6 * len(names), 4))
    axes = [axes] if len(names) == 1 else list(axes)
    for ax, name, title, lg in zip(axes, names, titles, log, strict=True):
        for arm in _order(runs):
            ys = _series(runs[arm]["curves"][name])
            ax.plot(range(len(ys)), ys, marker="o", ms=3, label=arm)
        ax.set_title(title)
        ax.set_xlabel("step")
        if lg:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    first = RunKey.of(a["runs"][0])
    fig.suptitle(f"{_data(a)}, seed {first.seed}, window {first.window}")
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return True


def plot_distribution(items: list[tuple[str, dict[str, list[float]]]], path: Path, ylabel: str) -> bool:
    """Box plus strip plot of per-arm values, one panel per (label, {arm: values})."""
    items = [(lbl, d) for lbl, d in items if d]
    if not items:
        return False

    plt = _plt()
    fig, axes = plt.subplots(1, len(items), figsize=(7 * len(items), 4.5), squeeze=False)
    for ax, (label, data) in zip(axes[0], items, strict=True):
        arms = _order(data)
        ax.boxplot([data[a] for a in arms], showfliers=False)
        rng = np.random.default_rng(0)
        for i, arm in enumerate(arms, start=1):
            ax.scatter(i + rng.uniform(-0.15, 0.15, len(data[arm])), data[arm], s=8, alpha=0.6)
        ax.set_xticks(range(1, len(arms) + 1), arms, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(ylabel)
        ax.set_title(label)
        ax.grid(alpha=0.3)
    fig.tight_layout()
    _save(fig, path)
    plt.close(fig)
    return True


def _save(fig, path: Path) -> None:
    """The figure as PNG, written whole or not at all (the folder was checked before any work)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    write_output(path, buf.getvalue(), overwrite=True)


def _finals_by_arm(a: dict) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {}
    for r in a["runs"]:
        if r["status"] == "ok":
            out.setdefault(r["arm"], []).append(unnum(r["final_loss"]) if _loss_study(a) else r["final_accuracy"])
    return out


# ---------------------------------------------------------------- the command


@dataclass
class Report:
    """The report's parts: ``markdown()`` is report.md; report.html (``report_html``) takes the same parts in
    its own order (the answer, then the tables, then the figures)."""

    header: list[str]  # the workload lines (Markdown)
    blocks: list[tuple[str, list[str]]]  # ("answer" or "table", Markdown lines), in report.md's order
    figures: list[tuple[str, str]]  # (file name in the folder, caption)
    sources: list[str]  # one Markdown list item per artifact

    def markdown(self) -> str:
        md = ["# paritybench report", "", *self.header, "## The answer", ""]
        for _, lines in self.blocks:
            md += lines
        md += ["## Figures", ""]
        for name, caption in self.figures:
            md += [f"![{caption}]({name})", "", f"*{caption}*", ""]
        md += ["## Sources", "", *self.sources]
        return "\n".join(md) + "\n"


def build_report(artifacts: list[dict], out_dir: Path) -> Report:
    """The report's parts, its PNGs written into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, list[dict]] = {}
    for a in artifacts:
        kinds.setdefault(a.get("kind", "run"), []).append(a)
    header: list[str] = []
    seen: set[str] = set()
    for a in artifacts:
        w = a["workload"]
        if w["name"] not in seen:
            seen.add(w["name"])
            header += [f"**Workload `{w['name']}`** (version {w['version']}): {w.get('question', '')}", ""]
    blocks: list[tuple[str, list[str]]] = []
    figures: list[tuple[str, str]] = []

    for a in kinds.get("run", []):
        blocks.append(("answer", answer_from_run(a) + [""]))
        blocks.append(("table", gap_lines(a, _first_case(a))))  # the settings that part each arm, beside its gap
    for a in kinds.get("sweep", []):
        blocks.append(("answer", answer_from_sweep(a) + [""]))
    blocks.append(("answer", answer_normalization(kinds.get("sweep", [])) + [""]))
    for a in kinds.get("sensitivity", []):
        blocks.append(("answer", answer_from_sensitivity(a) + [""]))
    runs = kinds.get("run", [])
    for a, suffix in zip(runs, run_suffixes(len(runs)), strict=True):
        v = _variant(a)
        for stem, names, titles, log, caption in (
            (
                "curves",
                ("accuracy", "loss"),
                ("training accuracy", "loss"),
                (False, True),
                "accuracy and loss per step, one line per arm",
            ),
            (
                "saturation",
                ("dead_misclassified", "dead_gradient", "saturated_logit"),
                ("misclassified with zero gradient", "zero loss gradient", "|logit| > 16.6"),
                (False,) * 3,
                f"share of {_scored(a)[0]}s with exactly zero loss gradient, and saturated, per step",
            ),
            (
                "agreement",
                ("grad_cosine", "grad_rel_error", "weight_distance"),
                ("cosine with f64 gradient", "relative error vs f64 gradient", "L2 distance from f64 weights"),
                (False, True, True),
                f"agreement with {reference_arm(a)} at the same weights, per step",
            ),
        ):
            name = f"{stem}-{v}{suffix}.png"
            source = f", `{Path(a['_path']).name}`" if suffix else ""
            if plot_curves(a, out_dir / name, names, titles, log):
                figures.append((name, f"{caption} ({_data(a)}{source})"))
        if _metric(a) == "loss" and plot_curves(a, out_dir / f"loss{suffix}.png", ("loss",), ("loss",), (True,)):
            figures.append((f"loss{suffix}.png", "the loss per step, one line per arm (the workload's metric)"))
    # each study's final-metric distribution per arm: a head without classes' final loss, then final accuracy
    for loss, suffix, metric, word, note in (
        (True, "-loss", "final loss", "loss", " (a head without classes)"),
        (False, "", "final training accuracy", "accuracy", ""),
    ):
        sweeps = [(f"sweep, {_data(a)}", _finals_by_arm(a)) for a in kinds.get("sweep", []) if _loss_study(a) == loss]
        if plot_distribution(sweeps, out_dir / f"sweep{suffix}.png", metric):
            figures.append((f"sweep{suffix}.png", f"final-{word} distribution per arm over the sweep{note}"))
        copies = [
            (
                f"{a['perturbation']['k']} copies perturbed by {a['perturbation']['rel']:g}, {_data(a)}",
                _finals_by_arm(a),
            )
            for a in kinds.get("sensitivity", [])
            if _loss_study(a) == loss
        ]
        if plot_distribution(copies, out_dir / f"sensitivity{suffix}.png", metric):
            figures.append((f"sensitivity{suffix}.png", f"sensitivity: final {word} of each perturbed copy, per arm"))
    sources = []
    for a in artifacts:
        env = a["environment"]
        pk = env.get("packages", {})
        sources.append(
            f"- `{a['_path']}`: {a.get('kind', 'run')}, created {a['created_at']}, jax {pk.get('jax')}, "
            f"tensorflow {pk.get('tensorflow')}, keras {pk.get('keras')}, "
            f"CPU {env.get('cpu', {}).get('model', '?')}"
        )
    return Report(header, blocks, figures, sources)


def write_report(
    artifacts: list[dict], out_dir: Path, explains: Sequence[dict] = (), localizes: Sequence[dict] = ()
) -> Path:
    """report.md, its PNGs and report.html (the same report on one self-contained page, led by the verdicts of
    ``explains`` and closed by the partings of ``localizes``) in ``out_dir``; returns report.md's path."""
    rep = build_report(artifacts, out_dir)
    page = report_html.render(  # whole before either file is written
        header=rep.header,
        answer=[line for kind, lines in rep.blocks if kind == "answer" for line in lines],
        tables=[line for kind, lines in rep.blocks if kind == "table" for line in lines],
        figures=[(caption, (out_dir / name).read_bytes()) for name, caption in rep.figures],
        artifacts=artifacts,
        explains=explains,
        localizes=localizes,
    )
    report = write_output(out_dir / "report.md", rep.markdown().encode(), overwrite=True)
    write_output(out_dir / "report.html", page.encode(), overwrite=True)
    return report


def run_suffixes(count: int) -> list[str]:
    """Each run artifact's figure-name suffix: none for a single run artifact (``curves-raw.png``), its
    1-based position among the run artifacts given for several (``curves-raw-1.png``, ``curves-raw-2.png``),
    so that no artifact's figures replace another's."""
    return [""] if count == 1 else [f"-{i}" for i in range(1, count + 1)]


def report_files(run_count: int = 1) -> tuple[str, ...]:
    """Every file write_report may write into its folder for ``run_count`` run artifacts."""
    suffixes = run_suffixes(max(run_count, 1))
    return (
        ("report.md", "report.html", "sweep.png", "sensitivity.png")
        + tuple(
            f"{stem}-{v}{suffix}.png"
            for suffix in suffixes
            for stem in ("curves", "saturation", "agreement")
            for v in ("raw", "normalized")
        )
        + tuple(f"loss{suffix}.png" for suffix in suffixes)
    )


REPORT_FILES = report_files(1)


def check_report_out(out_dir: Path, inputs: list[str], overwrite: bool, names: tuple[str, ...] = REPORT_FILES) -> None:
    """Before any work: the folder is (or can be made) a writable directory, not a link, and none of
    the files the report writes there is an input, a link, a non-regular file, or (without
    ``--overwrite``) an existing file."""
    if os.path.islink(out_dir):
        raise ParityError(
            f"--out {out_dir} is a symbolic link: paritybench never writes through a link; give the real folder"
        )
    if os.path.lexists(out_dir) and not out_dir.is_dir():
        raise ParityError(
            f"--out {out_dir} is not a directory (the report is a folder of report.md and PNGs): "
            "give a new or existing folder"
        )
    check_output_dir(out_dir, "--out")
    for name in names:
        check_output_path(out_dir / name, inputs=inputs, overwrite=overwrite, what="--out")


__all__ = ["write_report", "build_report", "Report", "answer_from_run"]
