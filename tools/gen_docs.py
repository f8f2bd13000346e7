"""Regenerate every measured figure in README.md and docs/ from the committed artifacts.

Usage: ``.venv/bin/python tools/gen_docs.py [--check]``

A generated block is the text between ``<!-- generated: NAME -->`` and ``<!-- end -->``; NAME is one of
``BLOCKS`` below, each a function of committed files only (``results/baselines``, ``results/claims``,
``results/scale``). The script rewrites each block from its artifact, so a figure cannot drift from it;
``--check`` writes nothing and exits 1 naming the files a run would change (``tests/test_docs.py`` runs
it). Plain Python and JSON: no framework is imported and nothing is trained.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

from paritybench.analysis.explain_record import named_cause
from paritybench.workloads import registry

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "results" / "baselines"
CLAIMS = ROOT / "results" / "claims" / "claims.json"
BLOCK = re.compile(r"(<!-- generated: ([a-z0-9:.-]+) -->\n)(.*?)(<!-- end -->)", re.S)

# The built-in workloads in the catalogue's order; each has results/baselines/<name>-cpu.json.
CATALOGUE = (
    "seed-bce",
    "softmax-ce",
    "adam-epsilon",
    "l2-weight-decay",
    "label-shape",
    "same-padding",
    "flatten-order",
    "pool-padding",
    "batchnorm-momentum",
    "init-defaults",
    "tf32-matmul",
    "gpu-nondeterminism",
    "gelu-approximate",
    "leaky-relu-slope",
    "loss-reduction",
    "batchnorm-variance",
    "momentum-schedule",
    "fit-shuffle",
    "dropout-rng",
    "mixed-precision",
)


def _explain_rows(first_only: bool) -> list[str]:
    """Per built-in workload: each port (``role="port"``) against the reference, where it first parts and the
    switch ``paritybench explain`` names, from ``results/explain/<workload>.json`` (``tools/explain_catalogue.py``);
    ``first_only``: the workload's first port, with the count of the others."""
    out = []
    for name in CATALOGUE:
        path = ROOT / "results" / "explain" / f"{name}.json"
        if any(arm.init for arm in registry.load(name).arms):
            out.append(f"| `{name}` | every port | - | refused: each arm draws its own initial weights | - |")
            continue
        if not path.exists():
            out.append(f"| `{name}` | - | - | not run yet (`tools/explain_catalogue.py --workloads {name}`) | - |")
            continue
        pairs = load(path)["pairs"]
        if not pairs:
            out.append(f"| `{name}` | every port | - | no pair on a CPU: the ports need a GPU | - |")
        for p in pairs[:1] if first_only else pairs:
            parted = p["parted"]
            where = "-" if parted is None else f"{parted['step']}, {parted['phase']}, `{parted['tensor']}`"
            switch, ratio = named_cause(p)
            more = f" (+{len(pairs) - 1})" if first_only and len(pairs) > 1 else ""
            out.append(f"| `{name}` | `{p['a']}`{more} | {where} | {switch} | {ratio} |")
    return out


_EXPLAIN_HEAD = [
    "| workload | port | first parting (step, phase, tensor) | the switch explain names | ratio to the floor |",
    "|---|---|---|---|---|",
]


def explain_catalogue() -> str:
    """Every port of every built-in workload (docs/localize.md)."""
    return "\n".join(_EXPLAIN_HEAD + _explain_rows(first_only=False)) + "\n"


def explain_summary() -> str:
    """The first port of each built-in workload, with the count of its other ports (README)."""
    return "\n".join(_EXPLAIN_HEAD + _explain_rows(first_only=True)) + "\n"


WORDS = "Zero One Two Three Four Five Six Seven Eight Nine Ten Eleven Twelve Thirteen Fourteen Fifteen Sixteen".split()
WORDS += "Seventeen Eighteen Nineteen Twenty Twenty-one Twenty-two".split()


def workload_list() -> str:
    """The README's sentence naming every built-in workload (``CATALOGUE``; tests/test_docs.py holds it equal to the
    registry's list)."""
    rest = ", ".join(f"`{n}`" for n in CATALOGUE[1:])
    return wrap(
        f"{WORDS[len(CATALOGUE)]} ship with paritybench: the seed question below (`{CATALOGUE[0]}`) and a catalogue "
        f"of the divergences that public issue threads keep reporting ({rest})."
    )


def doc_files() -> list[Path]:
    """README.md and every page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def sci(x: float, digits: int = 1) -> str:
    """3.9e-7, never 3.9e-07; 0 as 0."""
    if x == 0:
        return "0"
    mant, exp = f"{x:.{digits}e}".split("e")
    return f"{mant}e{int(exp)}"


def pval(p: float) -> str:
    return sci(p) if p < 1e-3 else f"{p:.2g}"


def pct(k: int, n: int) -> str:
    return f"{100 * k / n:.1f}%"


def num(v) -> float:
    return float(v) if not isinstance(v, str) else float(v)  # "nan", "inf" are strings in artifacts


def acc(v) -> str:
    x = num(v)
    return "nan" if math.isnan(x) else f"{x:.3f}"


def runs_by_arm(a: dict) -> dict[str, dict]:
    return {r["arm"]: r for r in a["runs"]}


# ---------------------------------------------------------------- the seed workload (README, docs/seed.md)


def wrap(text: str) -> str:
    """One paragraph, wrapped at 100 columns (markdown renders it as one)."""
    return textwrap.fill(" ".join(text.split()), width=100, break_on_hyphens=False) + "\n"


def seed_answer() -> str:
    """The README's answer paragraph, every figure from an artifact."""
    a = load(BASE / "seed-bce-cpu.json")
    r = runs_by_arm(a)
    c = load(CLAIMS)["seed_bce"]
    sens = load(BASE / "sensitivity-cpu.json")["sensitivity"]
    summ = load(BASE / "sweep-cpu.json")["summary"]
    mech = {(m["keras_arm"], m["emulation"]): m for m in a["mechanism"]}
    n = c["n"]
    stable = r["jax-seed-stable"]["curves"]
    clipped = [k for k, v in sens.items() if v["class"] == "chaotic" and k.startswith("jax-")]
    lo = min(sens[k]["final_accuracy"]["min"] for k in clipped)
    hi = max(sens[k]["final_accuracy"]["max"] for k in clipped)
    near = sorted(summ[k]["near_chance"]["count"] for k in clipped)
    runs = summ[clipped[0]]["final_accuracy"]["count"]
    seed_sens = sens["jax-seed-stable"]["final_accuracy"]
    dead = round(stable["dead_gradient"][0] * n)
    dead_wrong = round(stable["dead_misclassified"][0] * n)
    tf_fix = mech[("keras-tensorflow", "jax-logits")]["max_abs_diff_final"]
    worst_step1 = max(m["max_abs_diff_step1"] for m in a["mechanism"])
    return wrap(
        f"""The answer it measures (`make bench`, the default sweep and the sensitivity study): with raw
        0-255 pixels, {pct(c["logit_above"] + c["logit_below"], n)} of the samples start with |logit| > 16.6,
        on both sides of zero. For z > 16.6 ({pct(c["logit_above"], n)}) float32's sigmoid rounds to
        exactly 1. For z < -16.6 ({pct(c["logit_below"], n)}) it is below 6e-8: exactly 0 for
        {pct(c["p_zero"], n)} (z < -88.7, where exp(-z) overflows), tiny but not zero for the other
        {pct(c["p_tiny"], n)}. A loss computed from the sigmoid's *output* either takes log(0) (the naive
        loss: inf/NaN at step 0, NaN weights from step 1, and a NaN network predicts one class:
        {acc(r["jax-naive"]["final_accuracy"])}) or clips the probability to [eps, 1 - eps], and the clip's
        gradient is exactly zero for every sample it moves, on either side: at step 0 the seed's clipped
        loss gives no gradient to {pct(dead, n)} of the samples ({pct(dead_wrong, n)} of all samples are
        misclassified and get none), and its gradient has cosine {stable["grad_cosine"][0]:.2f} with the
        true (float64) one. Where such a run ends is chaotic: a relative 1e-7 change of the initial
        weights moves the final accuracy of the seed's clipped loss anywhere from {acc(seed_sens["min"])}
        to {acc(seed_sens["max"])} (32 copies; {acc(lo)}-{acc(hi)} across the clipped arms), and over 10
        seeds x 10 windows the clipped losses end near chance in {near[0]}-{near[-1]} of {runs} runs.
        Keras's TensorFlow backend quietly computes the loss from the *logits* its sigmoid cached
        (`_keras_logits`), which never saturates: it ends at {acc(r["keras-tensorflow"]["final_accuracy"])}
        every time, like `optax.sigmoid_binary_cross_entropy` in JAX (final weights within {sci(tf_fix)}
        of Keras-TF's) and a float64 reference. Keras's JAX and torch backends clip, like the
        hand-written losses, so Keras disagrees with itself; paritybench reproduces each backend's update
        with a JAX emulation to within {sci(worst_step1)} after one step. Scale the pixels to [0, 1] and
        the gap disappears: every arm ends at the same accuracy."""
    )


SWAP_ORDER = ("jax", "keras-tensorflow", "keras-jax", "keras-torch", "reference-f64")


def arm_table(a: dict) -> str:
    """One row per arm: initial and final training accuracy, final loss, first NaN, the weight swap, hash."""
    runs = [r for r in a["runs"] if r.get("seed", 0) == 0 and r.get("window_start", 0) == 0]
    seen = {k for r in runs for k in r.get("swap") or {}}
    swaps = [k for k in SWAP_ORDER if k in seen] + sorted(seen - set(SWAP_ORDER))
    head = ["arm", "initial", "final", "loss", "NaN/inf", *(f"{s} fwd" for s in swaps), "sha256"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        if r["status"] != "ok":
            out.append(f"| `{r['arm']}` | {r['status']} |" + " |" * (len(head) - 2))
            continue
        loss = num(r["final_loss"])
        nan = "no" if not r["any_nonfinite"] else f"step {r['first_nonfinite_step']}"
        sw = [acc(r["swap"][s]) if s in (r.get("swap") or {}) else "" for s in swaps]
        cells = [
            f"`{r['arm']}`",
            acc(r["initial_accuracy"]),
            acc(r["final_accuracy"]),
            "nan" if math.isnan(loss) else f"{loss:.4f}",
            nan,
            *sw,
            r["final_weights_sha256"][:8],
        ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def bench_table() -> str:
    a = load(BASE / "seed-bce-cpu.json")
    cpu = a["environment"]["cpu"]
    pkgs = a["environment"]["packages"]
    versions = ", ".join(f"{k} {pkgs[k]}" for k in ("jax", "tensorflow", "keras", "torch") if pkgs.get(k))
    return arm_table(a) + (
        f"\n`results/baselines/seed-bce-cpu.json`: `paritybench run --workload all --no-weights` on"
        f" {cpu['model']} ({cpu['logical_cpus']} logical CPUs; {versions}),"
        f" {a['timing']['total_seconds']:.0f} s in all (`timing.total_seconds`).\n"
    )


def mechanism_table(a: dict) -> str:
    out = [
        "| arm | its twin | max \\|dw\\| after step 1 | after the last step | reproduced (< 1e-6 at step 1) |",
        "|---|---|---|---|---|",
    ]
    for m in a["mechanism"]:
        out.append(
            f"| `{m['keras_arm']}` | `{m['emulation']}` | {sci(m['max_abs_diff_step1'])} |"
            f" {sci(m['max_abs_diff_final'])} | {'yes' if m['reproduced'] else 'no'} |"
        )
    return "\n".join(out) + "\n"


def bench_mechanism() -> str:
    return mechanism_table(load(BASE / "seed-bce-cpu.json"))


def gpu_mechanism() -> str:
    return mechanism_table(load(BASE / "seed-bce-gpu.json"))


def seed_step0() -> str:
    """Where the seed's samples sit at step 0, z > 0 and z < 0 apart, and what each loss does there."""
    c = load(CLAIMS)["seed_bce"]
    n = c["n"]

    def share(k: int, wrong: int) -> str:
        return f"{k} ({pct(k, n)}), {wrong} misclassified"

    return (
        "| logit z at the initial weights | samples | float32 sigmoid p | naive loss |"
        " clip to [eps, 1 - eps] | torch `binary_cross_entropy` |\n"
        "|---|---|---|---|---|---|\n"
        f"| z > 16.6 | {share(c['logit_above'], c['logit_above_misclassified'])} | exactly 1.0 |"
        " log(1 - p) = log(0): loss inf for label 0, NaN for label 1 (0 x log 0); gradient NaN for both |"
        " p set to the bound: zero gradient |"
        f" log clamped at -100, gradient zero through the sigmoid's p(1 - p) = 0: {c['torch_bce_dead_p_one']} dead |\n"
        f"| -88.7 < z < -16.6 | {share(c['p_tiny'], c['p_tiny_misclassified'])} |"
        f" tiny, not zero (at most {sci(c['p_tiny_max'])}) | finite, live gradient |"
        f" p < eps, set to the bound: zero gradient | finite; {c['torch_bce_dead_underflow']} of them underflow"
        f" to a zero gradient (label 0: {c['torch_bce_dead_underflow_label0']} of them; torch's backward"
        " (p - y) / max(p (1 - p), 1e-12) times the sigmoid's p (1 - p) is about 1e12 p^2, below float32's"
        " smallest subnormal) |\n"
        f"| z < -88.7 | {share(c['p_zero'], c['p_zero_misclassified'])} | exactly 0.0 (exp(-z) overflows) |"
        " log(p) = log(0): loss inf for label 1, NaN for label 0; gradient NaN for both |"
        " p set to the bound: zero gradient |"
        f" log clamped at -100, gradient zero through p(1 - p) = 0: {c['torch_bce_dead_p_zero']} dead |\n\n"
    ) + wrap(
        f"So {pct(c['p_one'] + c['p_zero'], n)} of the samples have p exactly 0 or 1 in IEEE float32 (torch,"
        f" NumPy); in the JAX arms, where XLA on the CPU flushes subnormal results to zero (p = 0 already"
        f" below z = {c['z_p_zero_xla']:.1f}), {pct(c['p_one_xla'] + c['p_zero_xla'], n)}: the artifact's"
        " `saturated_output` at step 0. The diagnostic `saturated_logit` is the |z| > 16.6 share"
        f" ({pct(c['logit_above'] + c['logit_below'], n)}): both sides, whether p rounded to 0 or not. torch's"
        f" `binary_cross_entropy` leaves {c['torch_bce_dead']} samples without a gradient when each sample's"
        f" loss is differentiated alone (the per-step diagnostics and `localize`: {c['torch_bce_dead_p_one']}"
        f" p = 1.0, {c['torch_bce_dead_p_zero']} p = 0.0, {c['torch_bce_dead_underflow']} underflow) and"
        f" {c['torch_bce_mean_grad_zeros']} in the training step's gradient of the mean loss (the 1/n factor"
        f" makes {c['torch_bce_mean_grad_underflow']} underflow), torch {c['torch_version'].split('+')[0]}.\n"
        f" Computed by `{load(CLAIMS)['command']}` (`results/claims/claims.json`), pinned by"
        " `tests/test_claims.py`."
    )


def sweep_table() -> str:
    w = load(BASE / "sweep-cpu.json")
    out = [
        "| arm | final accuracy mean ± std | min | median | max | near chance | vs reference |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for arm, s in w["summary"].items():
        f = s["final_accuracy"]
        nc = s.get("near_chance") or {}
        d = s.get("paired_diff_vs_reference")
        diff = f"{d['mean']:+.3f}" if d else ""
        out.append(
            f"| `{arm}` | {f['mean']:.3f} ± {f['std']:.3f} | {f['min']:.3f} | {f['median']:.3f} | {f['max']:.3f} |"
            f" {nc.get('count', 0)}/{f['count']} | {diff} |"
        )
    t = w["timing"]
    return (
        "\n".join(out) + f"\n\n`results/baselines/sweep-cpu.json`: {t['total_seconds']:.0f} s in all,"
        f" {t['train_seconds']:.0f} s ({100 * t['train_seconds'] / t['total_seconds']:.1f}%) in training steps.\n"
    )


def sensitivity_table() -> str:
    s = load(BASE / "sensitivity-cpu.json")
    out = [
        "| arm | class | final accuracy over the copies | max abs weight diff vs copy 0 |",
        "| --- | --- | --- | --- |",
    ]
    for arm, v in s["sensitivity"].items():
        f = v["final_accuracy"]
        spread = f"{f['min']:.3f} every time" if f["min"] == f["max"] else f"{f['min']:.3f} - {f['max']:.3f}"
        d = v["max_weight_diff_vs_copy0"]
        dd = "nan" if isinstance(d, str) else (sci(d) if d < 1e-3 else f"{d:.3f}")
        out.append(f"| `{arm}` | {v['class']} | {spread} | {dd} |")
    return (
        "\n".join(out) + f"\n\n`results/baselines/sensitivity-cpu.json`: {v['copies']} copies,"
        f" {s['timing']['total_seconds']:.0f} s.\n"
    )


def sweep_normalized() -> str:
    w = load(BASE / "sweep-cpu-normalized.json")
    t = w["timing"]
    f = w["summary"]["reference-f64"]["final_accuracy"]
    same = [a for a, s in w["summary"].items() if s["final_accuracy"] == f]
    g = load(BASE / "sweep-gpu.json")
    sens = load(BASE / "sensitivity-gpu.json")["sensitivity"]
    kt = sens.get("keras-torch", {}).get("final_accuracy")
    return wrap(
        f"With `--normalize` (`results/baselines/sweep-cpu-normalized.json`, {t['total_seconds']:.0f} s,"
        f" {100 * t['train_seconds'] / t['total_seconds']:.0f}% training) {len(same)} of the"
        f" {len(w['summary'])} arms, the naive one included, end with the reference's distribution"
        f" ({f['mean']:.3f} ± {f['std']:.3f} after {w['config']['steps']} steps): the gap comes from raw 0-255"
        f" inputs saturating the sigmoid. On an H200 (`results/baselines/sweep-gpu.json`,"
        f" {g['timing']['total_seconds']:.0f} s) the distributions match the CPU's: `paritybench compare"
        f" results/baselines/sweep-cpu.json results/baselines/sweep-gpu.json` exits 0 (keras-tensorflow is"
        f" missing on the GPU, keras-torch on the CPU: not installed there)."
        + (
            f" In the H200's sensitivity study (`results/baselines/sensitivity-gpu.json`) `keras-torch` is"
            f" {sens['keras-torch']['class']} too ({kt['min']:.3f} - {kt['max']:.3f})."
            if kt
            else ""
        )
    )


# ---------------------------------------------------------------- the catalogue (docs/catalogue.md)


def catalogue_gaps() -> str:
    """Per workload: each final accuracy and the arms that reach it; each mechanism pair after step 1."""
    out = [
        "| workload | final training accuracy: arms | max \\|dw\\| after step 1 (arm vs its twin) | artifact |",
        "|---|---|---|---|",
    ]
    for name in CATALOGUE:
        path = BASE / f"{name}-cpu.json"
        a = load(path)
        if a.get("kind") == "sweep":
            summ = a["summary"]
            gaps = "; ".join(f"`{arm}` median {s['final_accuracy']['median']:.3f}" for arm, s in summ.items())
        else:
            groups: dict[str, list[str]] = {}
            for r in a["runs"]:
                key = acc(r["final_accuracy"]) if r["status"] == "ok" else r["status"]
                if r["status"] == "ok" and r["any_nonfinite"]:
                    key += " (NaN)"
                groups.setdefault(key, []).append(f"`{r['arm']}`")
            gaps = "; ".join(f"{k}: {', '.join(v)}" for k, v in groups.items())
        mech = ", ".join(f"`{m['keras_arm']}` {sci(m['max_abs_diff_step1'])}" for m in a.get("mechanism", []))
        # a sweep whose arms share initial weights (dropout-rng: masks that cannot match) vs one without (init-defaults)
        shared = not any(arm.init for arm in registry.load(name).arms)
        none = "(a sweep: distributions over seeds)" if shared else "(no shared weights)"
        out.append(f"| `{name}` | {gaps} | {mech or none} | `{path.relative_to(ROOT)}` |")
    return "\n".join(out) + "\n"


def artifact_arms(stem: str) -> str:
    """``arms:STEM``: one row per arm of results/baselines/STEM.json (seed 0, window 0): final training
    accuracy, evaluation accuracy and mean moving variance where the workload has them, the largest
    weight difference from the float64 reference's trajectory after step 1 and after the last step, and
    for ``--repeat`` artifacts whether the repeats' final weights are bit-identical."""
    path = BASE / f"{stem}.json"
    a = load(path)
    if a["kind"] == "sweep":
        return sweep_arms(a, path)
    runs = [r for r in a["runs"] if r.get("seed", 0) == 0 and r.get("window_start", 0) == 0 and "copy" not in r]
    ev = any("final_eval_accuracy" in r for r in runs)
    var = any("state_mean_abs/bn/moving_variance" in (r.get("curves") or {}) for r in runs)
    rep = (a.get("repeat") or {}).get("arms")
    head = ["arm", "final accuracy"]
    head += ["evaluation accuracy"] if ev else []
    head += ["mean moving variance"] if var else []
    head += ["max \\|w - w_f64\\| after step 1", "after the last step"]
    head += ["repeats bit-identical (max \\|dw\\|)"] if rep else []
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in runs:
        if r["status"] != "ok":
            out.append(f"| `{r['arm']}` | {r['status']} |" + " |" * (len(head) - 2))
            continue
        c = r.get("curves") or {}
        w = c.get("weight_max_abs_diff") or []
        final = acc(r["final_accuracy"]) + (" (NaN)" if r["any_nonfinite"] else "")
        cells = [f"`{r['arm']}`", final]
        if ev:
            cells.append(acc(r["final_eval_accuracy"]) if "final_eval_accuracy" in r else "")
        if var:
            v = c.get("state_mean_abs/bn/moving_variance")
            cells.append(f"{v[-1]:.3f}" if v else "")
        cells += [sci(num(w[1])) if len(w) > 1 else "", sci(num(w[-1])) if w else ""]
        if rep:
            x = rep.get(r["arm"])
            if x:
                d = max(case["max_abs_diff"] for case in x["cases"])
                cells.append(("yes" if x["identical"] else "no") + f" ({sci(d)})")
            else:
                cells.append("")
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + f"\n\n`{path.relative_to(ROOT)}`.\n"


def sweep_arms(a: dict, path: Path) -> str:
    """A sweep over seeds (init-defaults, dropout-rng): per arm the median final accuracy, the median evaluation
    accuracy where the workload has a held-out window, and the median step-0 loss, each with a two-sided
    Mann-Whitney U test against the workload's fix (the first arm where the artifact names none; scipy, as
    ``compare`` runs it)."""
    from scipy.stats import mannwhitneyu

    arms: dict[str, dict[str, list[float]]] = {}
    for r in a["runs"]:
        if r["status"] == "ok":
            d = arms.setdefault(r["arm"], {"final": [], "eval": [], "loss0": []})
            d["final"].append(num(r["final_accuracy"]))
            if "final_eval_accuracy" in r:
                d["eval"].append(num(r["final_eval_accuracy"]))
            d["loss0"].append(num(r["curves"]["loss"][0]))
    name = (a.get("workload") or {}).get("name")
    fix = registry.load(name).fix if name in registry.BUILTIN else None  # the declaration only: no framework
    first = fix if fix in arms else next(iter(arms))
    ev = all(d["eval"] for d in arms.values())
    cols = ["median final accuracy", *(["median evaluation accuracy"] if ev else []), "median step-0 loss"]
    out = [
        "| arm | runs | " + " | ".join(f"{c} | p vs `{first}`" for c in cols) + " |",
        "|---|---|" + "---|---|" * len(cols),
    ]

    def med(v: list[float]) -> float:
        v = sorted(v)
        k = len(v) // 2
        return v[k] if len(v) % 2 else (v[k - 1] + v[k]) / 2

    def p(arm: str, key: str) -> str:
        if arm == first:
            return ""
        xa, xb = arms[arm][key], arms[first][key]
        return "1" if len(set(xa) | set(xb)) == 1 else pval(mannwhitneyu(xa, xb).pvalue)  # one value: no test

    for arm, d in arms.items():
        cells = [f"{med(d['final']):.3f} | {p(arm, 'final')}"]
        cells += [f"{med(d['eval']):.3f} | {p(arm, 'eval')}"] if ev else []
        cells += [f"{med(d['loss0']):.1f} | {p(arm, 'loss0')}"]
        out.append(f"| `{arm}` | {len(d['final'])} | " + " | ".join(cells) + " |")
    return "\n".join(out) + f"\n\n`{path.relative_to(ROOT)}`.\n"


def softmax_table() -> str:
    return arm_table(load(BASE / "softmax-ce-cpu.json"))


def softmax_step0() -> str:
    c = load(CLAIMS)["softmax_ce"]
    n = c["n"]
    return wrap(
        f"At step 0, {pct(c['saturated_f32'], n)} of the samples have a float32 softmax output that is exactly 0"
        f" or 1 in some class ({pct(c['saturated_f64'], n)} in float64); {pct(c['true_class_below_eps'], n)}"
        f" start with a true-class probability below 1e-7. The clipped loss gives no gradient to"
        f" {pct(c['clip_dead'], n)} of the samples, and {pct(c['clip_dead_misclassified'], n)} of all samples"
        f" are both misclassified and without a gradient (`{load(CLAIMS)['command']}`, `tests/test_claims.py`)."
    )


def same_padding_step0() -> str:
    c = load(CLAIMS)["same_padding"]
    return wrap(
        f"At step 0, from the same weights, the port's logits differ from TF's by up to"
        f" {c['max_abs_logit_diff']:.3f} (the logits' standard deviation under SAME: {c['logit_std_same']:.2f}),"
        f" and {c['edge_ink_images']} of the {c['n']} images have ink in the last row or column, where the"
        f" port is not SAME on a shifted image (`{load(CLAIMS)['command']}`, `tests/test_claims.py`)."
    )


def adam_eps() -> str:
    c = load(CLAIMS)["adam_epsilon"]
    return wrap(
        f"In optax terms Keras's epsilon is eps_t = eps / sqrt(1 - b2^t): {c['eps_ratio_t1']:.1f} eps at step 1,"
        f" {c['eps_ratio_t2']:.1f} at 2, {c['eps_ratio_t3']:.1f} at 3, {c['eps_ratio_t1000']:.3f} eps after"
        f" 1000 steps and {c['eps_ratio_t5000']:.4f} after 5000 (b2 = 0.999)."
    )


def label_shape_localize() -> str:
    rec = load(BASE / "localize" / "label-shape-cpu.json")
    never = [p for p in rec["pairs"] if p.get("first") is None]
    part = [p for p in rec["pairs"] if p.get("first") is not None]
    largest = max(never, key=lambda p: p["max_ratio"])
    first = [p["first"] for p in part]
    ratios = [f["ratio"] for f in first if f.get("ratio") is not None]
    where = ", ".join(sorted({f"step {f['step']} {f['phase']}" for f in first}))
    return (
        f"| label-shape | {largest['max_ratio']:.3g} ({largest['a']}) | {sci(min(ratios), 2)}"
        f" ({', '.join(p['a'] for p in part)}, {where}) |\n"
    )


def localize_record(stem: str) -> str:
    """``localize:STEM``: each pair's first parting in results/baselines/localize/STEM.json, one line each,
    as ``paritybench localize`` prints it."""
    path = BASE / "localize" / f"{stem}.json"
    rec = load(path)
    lines = []
    for p in rec["pairs"]:
        f = p.get("first")
        if f is None:
            lines.append(
                f"{p['a']} vs {p['b']}: never part (largest ratio to the noise floor {p['max_ratio']:.3g},"
                f" factor {rec['factor']:g})"
            )
            continue
        what = f.get("detail") or (f"{f['ratio']:.3g}x the noise floor" if f.get("ratio") is not None else "")
        lines.append(f"{p['a']} vs {p['b']}: step {f['step']}, {f['phase']}, {f['tensor']}: {what}")
    for s in rec.get("skipped") or []:
        lines.append(f"skipped: {s}")
    return "```\n" + "\n".join(lines) + f"\n```\n\n`{path.relative_to(ROOT)}`.\n"


def gpu_torch_twins() -> str:
    """Every native torch arm against its JAX twin on the H200, from the GPU baselines' ``mechanism``."""
    rows = []
    for path in sorted(BASE.glob("*-gpu.json")):
        a = load(path)
        for m in a.get("mechanism") or []:
            if m.get("framework") == "torch":
                rows.append(
                    f"| `{m['keras_arm']}` | `{m['emulation']}` | {sci(m['max_abs_diff_step1'])} |"
                    f" `{path.relative_to(ROOT)}` |"
                )
    return (
        "| torch arm | its JAX twin | max \\|dw\\| after step 1 | artifact |\n|---|---|---|---|\n"
        + "\n".join(rows)
        + "\n"
    )


# ---------------------------------------------------------------- timing (docs/timing.md)


def seed_timing() -> str:
    a = load(BASE / "seed-bce-cpu.json")
    t = a["timing"]
    procs = ", ".join(f"{k} {v:.1f} s" for k, v in t["process_seconds"].items())
    return (
        f"training {t['train_seconds']:.1f} s, compile {t['compile_seconds']:.1f} s, per-step diagnostics"
        f" {t['diagnostics_seconds']:.1f} s, per process {procs}; {t['total_seconds']:.1f} s in all"
        " (`results/baselines/seed-bce-cpu.json`, `timing`).\n"
    )


def timing_file(stem: str) -> str:
    """``timing:STEM``: each figure of results/timing/STEM.json (pytest-benchmark): median per call, IQR as a
    share of the median, GFLOP/s from the counted FLOPs, and each step over the jitted JAX SGD step."""
    path = ROOT / "results" / "timing" / f"{stem}.json"
    t = load(path)
    bench = t["benchmarks"]
    base = next((b["stats"]["median"] for b in bench if b["extra_info"].get("label") == "jax-sgd"), None)
    out = [
        "| group | label | median per call | IQR / median | rounds | GFLOP/s | vs `jax-sgd` |",
        "|---|---|---|---|---|---|---|",
    ]
    for b in bench:
        st, ex = b["stats"], b["extra_info"]
        med = st["median"]
        gflops = f"{ex['flops'] / med / 1e9:.0f}" if ex.get("flops") else ""
        vs = f"{med / base:.2f}x" if base and b["group"] == "step" else ""
        iqr = st["iqr"] / med
        noisy = " NOISY" if iqr > 0.2 else ""
        out.append(
            f"| {b['group']} | `{ex.get('label', b['name'])}` | {med * 1e3:.2f} ms | {100 * iqr:.0f}%{noisy} |"
            f" {st['rounds']} | {gflops} | {vs} |"
        )
    dev = bench[0]["extra_info"].get("device", "")
    return "\n".join(out) + f"\n\n`{path.relative_to(ROOT)}` ({dev}).\n"


def _ratio_rounds(r: dict, base: str, other: str, base_name: str, other_name: str) -> str:
    """The rounds of a side-by-side timing record (bench/benchutil.timed_record's fields) as a table, and the
    summed ratios with the machine, commit and command that measured them."""
    out = [
        f"| round | {base_name}: wall / CPU | {other_name}: wall / CPU | wall ratio | load before |",
        "|---|---|---|---|---|",
    ]
    for i, rd in enumerate(r["rounds"], 1):
        b, e = rd[base], rd[other]
        out.append(
            f"| {i} | {b['wall_seconds']:.1f} s / {b['cpu_seconds']:.1f} s | {e['wall_seconds']:.1f} s /"
            f" {e['cpu_seconds']:.1f} s | {e['wall_seconds'] / b['wall_seconds']:.2f}x |"
            f" {b['load_average_before']:.1f}, {e['load_average_before']:.1f} |"
        )
    return (
        "\n".join(out)
        + f"\n\nSummed over the rounds: **{r['wall_ratio']:.2f}x** wall, {r['cpu_ratio']:.2f}x CPU time ({r['cpu']},"
        f" {r['logical_cpus']} logical CPUs, commit {r['commit']}, `{r['command']}`,"
    )


def bench_all_ratio() -> str:
    """``make bench-all`` against ``make bench``, side by side (bench/bench_all_ratio.py)."""
    r = load(ROOT / "results" / "timing" / "bench-all-ratio.json")
    last = r["rounds"][-1]["bench_all"]["workload_seconds"]
    slow = ", ".join(f"{k} {v:.1f} s" for k, v in sorted(last.items(), key=lambda kv: -kv[1])[:5])
    return (
        _ratio_rounds(r, "bench", "bench_all", "bench", "bench-all")
        + f" `results/timing/bench-all-ratio.json`). The slowest workloads of the last round: {slow}.\n"
    )


def explain_vs_localize() -> str:
    """``paritybench explain`` against ``paritybench localize`` on the same pairs (bench/explain_speed.py)."""
    r = load(ROOT / "results" / "timing" / "explain-vs-localize.json")
    return (
        _ratio_rounds(r, "localize", "explain", "localize", "explain")
        + f" `results/timing/explain-vs-localize.json`; {r['workload']}, {r['pairs']}).\n"
    )


# ---------------------------------------------------------------- scale (docs/scale.md)


def ray_overhead() -> str:
    r = load(ROOT / "results" / "scale" / "ray-overhead-3x2.json")
    loc, ray = r["local"], r["ray"]
    return (
        "| | wall time | per case |\n|---|---|---|\n"
        f"| local | {loc['wall_seconds']:.1f} s | {loc['per_case_seconds']:.1f} s |\n"
        f"| Ray, {ray['tasks']} tasks | {ray['wall_seconds']:.1f} s | {ray['per_case_seconds']:.1f} s |\n"
        f"| Ray's overhead | {ray['wall_seconds'] - loc['wall_seconds']:.1f} s |"
        f" {r['ray_overhead_per_case_seconds']:.1f} s |\n\n"
        f"{r['grid']['runs']} runs ({r['grid']['cases']} cases), {r['cpu']}, {r['logical_cpus']} logical CPUs;"
        f" bit-identical: {'yes' if r['bit_identical'] else 'no'}; the Ray sweep's compile time summed over"
        f" its tasks {ray['compile_seconds']:.1f} s (`results/scale/ray-overhead-3x2.json`).\n"
    )


def sweep_on_paper() -> str:
    """The cost of a 1,000-seed x 10-window sweep on N machines, from the committed default sweep."""
    w = load(BASE / "sweep-cpu.json")
    t = w["timing"]
    cases = len({(r["seed"], r["window_start"]) for r in w["runs"]})
    per_case = t["train_seconds"] / cases
    fixed = t["total_seconds"] - t["train_seconds"]
    big = 1000 * 10

    def span(sec: float) -> str:
        return f"{sec / 3600:.1f} h" if sec >= 3600 else f"{sec / 60:.1f} min"

    ns = (1, 4, 10, 50, 100)
    return (
        f"From the committed one-machine baseline of the seed workload (`results/baselines/sweep-cpu.json`,"
        f" every arm, {cases} cases on this 2-core machine): {t['total_seconds']:.1f} s in all,"
        f" {t['train_seconds']:.1f} s of it training, i.e. {per_case:.2f} s of training per case plus about"
        f" {fixed:.0f} s per sweep of imports, compilation and worker start-up. A 1,000-seed x 10-window sweep"
        f" is {big:,} cases; on N such machines, one shard each:\n\n"
        f"    T(N) ~= {big:,} x {per_case:.2f} s / N + {fixed:.0f} s (per shard) + merge (seconds)\n\n"
        "| N | " + " | ".join(str(n) for n in ns) + " |\n|" + "---|" * (len(ns) + 1) + "\n"
        "| T(N) | " + " | ".join(span(big * per_case / n + fixed) for n in ns) + " |\n"
    )


BLOCKS: dict[str, Callable[[], str]] = {
    "workload-list": workload_list,
    "explain-catalogue": explain_catalogue,
    "explain-summary": explain_summary,
    "seed-answer": seed_answer,
    "bench-table": bench_table,
    "bench-mechanism": bench_mechanism,
    "gpu-mechanism": gpu_mechanism,
    "sweep-normalized": sweep_normalized,
    "seed-step0": seed_step0,
    "sweep-table": sweep_table,
    "sensitivity-table": sensitivity_table,
    "catalogue-gaps": catalogue_gaps,
    "softmax-table": softmax_table,
    "softmax-step0": softmax_step0,
    "same-padding-step0": same_padding_step0,
    "adam-eps": adam_eps,
    "label-shape-localize": label_shape_localize,
    "ray-overhead": ray_overhead,
    "sweep-on-paper": sweep_on_paper,
    "seed-timing": seed_timing,
    "gpu-torch-twins": gpu_torch_twins,
    "bench-all-ratio": bench_all_ratio,
    "explain-vs-localize": explain_vs_localize,
}


def render(text: str, where: str = "") -> str:
    """``text`` with every generated block rewritten; an unknown block name is an error."""

    def sub(m: re.Match) -> str:
        name = m.group(2)
        if name.startswith("arms:"):
            return m.group(1) + artifact_arms(name[5:]) + m.group(4)
        if name.startswith("timing:"):
            return m.group(1) + timing_file(name[7:]) + m.group(4)
        if name.startswith("localize:"):
            return m.group(1) + localize_record(name[9:]) + m.group(4)
        if name not in BLOCKS:
            raise SystemExit(f"gen_docs: error: {where}: unknown block {name!r}: one of {', '.join(BLOCKS)}")
        return m.group(1) + BLOCKS[name]() + m.group(4)

    return BLOCK.sub(sub, text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is not current")
    args = ap.parse_args(argv)
    stale = []
    for f in doc_files():
        old = f.read_text()
        new = render(old, str(f.relative_to(ROOT)))
        if new != old:
            stale.append(str(f.relative_to(ROOT)))
            if not args.check:
                f.write_text(new)
    if args.check and stale:
        print(f"not current: {', '.join(stale)}: run .venv/bin/python tools/gen_docs.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
