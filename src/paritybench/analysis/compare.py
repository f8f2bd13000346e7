"""``paritybench compare A.json B.json [C.json ...]``: is B the same result as A?

The first artifact is the reference; every other one is compared with it. Runs
are matched by (arm, seed, window, copy) and each pair gets one verdict:

- ``identical``: the same final-weights sha256 (bit-identical weights), with the
  same recorded accuracies (equal hashes with different outcomes are divergent:
  one of the artifacts is wrong);
- ``equivalent``: a stable arm within ``tolerances.STABLE_TOLERANCE`` (weights when
  both weight files are there, loss / gradient-norm / accuracy curves, final
  accuracy within one sample); a chaotic arm whose final-accuracy distribution
  over all its runs is not told apart from the reference's by a Mann-Whitney U test;
- ``divergent``: anything else (and a run that errored where the reference ran);
- ``inconclusive``: a chaotic arm with too few runs for the test to ever reject
  (one seed on each side, say): not a pass, not a failure; sweep more seeds;
- ``missing``: run on one side only (or skipped).

Refused with exit 2 (naming the field): artifacts of different schema majors, or
of different experiments (steps, lr, n, normalisation, threefry, training data).
Numerics options (oneDNN, threads, determinism) may differ: they are what a
comparison across configurations is for, and they appear in the environment diff. A workload
of one name and version whose recorded sha256 differs (its code was edited) is said in a note
beside the verdicts, not refused (``workload_change``).
Exit 1 when any pair is divergent, else 0.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from paritybench.analysis.tolerances import ALPHA, CHAOTIC, STABLE, STABLE_TOLERANCE, can_reject
from paritybench.artifact import check_artifact_file, unnum, upgrade
from paritybench.artifact.inputs import weights_path_of
from paritybench.artifact.records import RunKey
from paritybench.errors import ParityError
from paritybench.experiment.config import RunConfig
from paritybench.experiment.npzguard import check_npz
from paritybench.experiment.weights import weights_sha256

VERDICTS = ("identical", "equivalent", "inconclusive", "missing", "divergent")
# Environment fields that differ on every run and say nothing about the machine.
NOISY_ENV_KEYS = ("import_seconds", "seconds", "created_at")


@dataclass
class Loaded:
    """One input artifact: where it came from, its content, runs by key, its weights file if any."""

    path: Path
    artifact: dict
    runs: dict[RunKey, dict]
    weights_path: Path | None
    _npz: object = None

    def weights(self, key: RunKey) -> dict[str, np.ndarray] | None:
        """This run's final weights from the artifact's ``.weights.npz``, or None when not kept."""
        if self.weights_path is None:
            return None
        if self._npz is None:
            self._npz = np.load(self.weights_path, allow_pickle=False)
        prefix = key.group + "/"
        found = {k[len(prefix) :]: self._npz[k] for k in self._npz.files if k.startswith(prefix)}
        return found or None


@dataclass
class Verdict:
    """The verdict on one matched pair of runs, with the reasons (each names the field)."""

    key: RunKey
    verdict: str
    arm_class: str
    reasons: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return self.key.label

    def to_dict(self) -> dict:
        return {
            "arm": self.key.arm,
            "seed": self.key.seed,
            "window_start": self.key.window,
            "copy": self.key.copy,
            "verdict": self.verdict,
            "class": self.arm_class,
            "reasons": self.reasons,
        }


@dataclass
class Comparison:
    """The reference against one other artifact."""

    reference: Path
    other: Path
    verdicts: list[Verdict]
    distribution_tests: list[dict]
    environment_diff: list[tuple[str, object, object]]
    # a sentence when the workload, of one name and version on both sides, was different code (``workload_change``)
    workload_change: str | None = None

    def counts(self) -> dict[str, int]:
        return {v: sum(1 for x in self.verdicts if x.verdict == v) for v in VERDICTS}

    def to_dict(self) -> dict:
        return {
            "reference": str(self.reference),
            "other": str(self.other),
            "counts": self.counts(),
            "verdicts": [v.to_dict() for v in self.verdicts],
            "distribution_tests": self.distribution_tests,
            "environment_diff": [{"field": f, "reference": a, "other": b} for f, a, b in self.environment_diff],
            "workload_change": self.workload_change,
        }


def _major(version: object) -> str:
    return str(version).split(".")[0]


def load(path: str | Path) -> Loaded:
    """Read one artifact for comparison; refuse (exit 2) one that is unreadable or invalid."""
    p = Path(path)
    # The one definition of a valid artifact, shared with `paritybench validate` (same message).
    artifact = check_artifact_file(p, exit_code=2)
    artifact = upgrade(artifact)  # schema 1: the seed-bce workload
    # A duplicate (arm, seed, window, copy) is refused by check_artifact_file, as validate refuses it.
    runs: dict[RunKey, dict] = {RunKey.of(run): run for run in artifact["runs"]}
    # Confined to the artifact's folder (a plain name, no link out of it), then its zip directory
    # and array headers checked before numpy reads it: a damaged file is one line naming it.
    weights_path = weights_path_of(p, artifact.get("weights_file") or None)
    if weights_path is not None and not os.path.lexists(weights_path):
        weights_path = None  # JSON-only copy (a committed baseline): compared by hash and curves
    if weights_path is not None:
        check_npz(
            weights_path,
            f"weights file of artifact {p}:",
            "it is damaged; re-run the artifact, or move the weights file away to compare by hash only",
        )
    return Loaded(p, artifact, runs, weights_path)


def comparable_fields() -> list[str]:
    """Config fields that define the experiment: RunConfig.comparable() less the numerics options.

    Numerics options (oneDNN, threads, determinism) are what cross-configuration
    comparisons vary; ``data_sha256`` is only the hash a user asked for (the data
    actually used is checked through ``environment.data.sha256``).
    """
    return [k for k in RunConfig().comparable() if k not in ("numerics", "data_sha256")]


def check_comparable(a: Loaded, b: Loaded) -> None:
    """Raise ParityError (exit 2) naming the first field that makes a and b different experiments."""
    wa, wb = a.artifact["workload"], b.artifact["workload"]
    for key in ("name", "version"):
        if wa.get(key) != wb.get(key):
            raise ParityError(
                f"workload {key} differs: {a.path} has {wa.get(key)!r}, {b.path} has {wb.get(key)!r}: "
                "only runs of the same workload are comparable; re-run one with the other's --workload"
            )
    ca, cb = a.artifact["config"], b.artifact["config"]
    for key in comparable_fields():
        if ca.get(key) != cb.get(key):
            raise ParityError(
                f"config.{key} differs: {a.path} has {ca.get(key)!r}, {b.path} has {cb.get(key)!r}: "
                "only runs of the same experiment are comparable; re-run one with the other's "
                f"--{key.replace('_', '-')}"
            )
    da = (a.artifact["environment"].get("data") or {}).get("sha256")
    db = (b.artifact["environment"].get("data") or {}).get("sha256")
    if da and db and da != db:
        raise ParityError(
            f"environment.data.sha256 differs: {a.path} trained on {da[:12]}, {b.path} on {db[:12]}: "
            "only runs on the same data are comparable; pass the same --data"
        )


def workload_change(a: Loaded, b: Loaded) -> str | None:
    """A sentence when the two artifacts' workload (one name and version: ``check_comparable``) was different
    code, its recorded sha256 differing; None when they agree or a side predates the hash. Said, not refused:
    the version is the declaration's own word for "the same experiment", and the hash changes with any byte of
    the workload's files (a comment, a reformatted line), so the verdicts stand, with the change beside them."""
    wa, wb = a.artifact["workload"], b.artifact["workload"]
    ha, hb = wa.get("sha256"), wb.get("sha256")
    if not ha or not hb or ha == hb:
        return None
    return (
        f"workload {wa.get('name')} version {wa.get('version')!r} is different code on the two sides "
        f"(sha256 {str(ha)[:12]} in {a.path.name}, {str(hb)[:12]} in {b.path.name}): the verdicts compare what "
        "each trained; give the workload a new version when an edit changes what it computes"
    )


def _floats(values: list) -> np.ndarray:
    return np.array([unnum(v) for v in values], dtype=np.float64)


def _close(name: str, a: list, b: list, rtol: float) -> str | None:
    """NaN-aware relative comparison of two curves; a reason naming the curve and step, or None."""
    x, y = _floats(a), _floats(b)
    if x.shape != y.shape:
        return f"curves.{name} has {x.size} vs {y.size} points"
    same_nonfinite = (
        (np.isnan(x) == np.isnan(y)) & (np.isposinf(x) == np.isposinf(y)) & (np.isneginf(x) == np.isneginf(y))
    )
    if not same_nonfinite.all():
        i = int(np.argmin(same_nonfinite))
        return f"curves.{name}[{i}] is {x[i]} vs {y[i]} (non-finite on one side only)"
    fin = np.isfinite(x)
    scale = np.maximum(np.maximum(np.abs(x), np.abs(y)), 1e-30)
    rel = np.where(fin, np.abs(x - y) / scale, 0.0)
    if (rel > rtol).any():
        i = int(np.argmax(rel))
        return f"curves.{name}[{i}] is {x[i]:.9g} vs {y[i]:.9g} (relative difference {rel[i]:.2e} > {rtol:g})"
    return None


def _weights_reason(wa: dict, wb: dict, atol: float) -> str | None:
    """NaN-aware max |difference| between two weight sets, against ``atol``; a reason or None."""
    if sorted(wa) != sorted(wb):
        return f"weights have parameters {sorted(wa)} vs {sorted(wb)}"
    worst, where = 0.0, ""
    for name in sorted(wa):
        x, y = np.asarray(wa[name], np.float64), np.asarray(wb[name], np.float64)
        if x.shape != y.shape:
            return f"weights {name} have shape {x.shape} vs {y.shape}"
        if not (
            np.array_equal(np.isnan(x), np.isnan(y))
            and np.array_equal(np.isinf(x), np.isinf(y))
            and np.array_equal(x[np.isinf(x)], y[np.isinf(y)])
        ):
            return (
                f"weights {name}: NaN/inf at different places ({int(np.isnan(x).sum())} vs "
                f"{int(np.isnan(y).sum())} NaN)"
            )
        fin = np.isfinite(x)
        if fin.any():
            d = float(np.max(np.abs(x[fin] - y[fin])))
            if d > worst:
                worst, where = d, name
    if worst > atol:
        return f"final weights differ by up to {worst:.3g} in {where} (tolerance {atol:g})"
    return None


def _integrity(side: Loaded, key: RunKey, run: dict) -> tuple[dict | None, str | None]:
    """This run's weights if kept, and a reason if they do not hash to the recorded sha256."""
    try:
        w = side.weights(key)  # reads the member: a corrupt one (bad CRC, cut data) fails here
        if w is None:
            return None, None
        actual = weights_sha256(w)
    except Exception as exc:  # a damaged or foreign weights file is a finding, not a crash
        return None, f"weights file {side.weights_path.name} is unusable for this run ({exc})"
    if actual != run["final_weights_sha256"]:
        return w, (
            f"final_weights_sha256 {run['final_weights_sha256'][:12]} in {side.path.name} does not match its "
            f"weights file {side.weights_path.name} (which hashes to {actual[:12]})"
        )
    return w, None


def _run_n(run: dict, artifact: dict) -> int:
    return int(run.get("n") or artifact["config"]["n"])


def compare_runs(key: RunKey, ra: dict | None, rb: dict | None, a: Loaded, b: Loaded, arm_class: str) -> Verdict:
    """The run-by-run verdict; a chaotic arm's non-identical pair is left 'pending' for its test."""
    v = Verdict(key, "missing", arm_class)
    if ra is None or rb is None:
        v.reasons.append(f"absent in {(a if ra is None else b).path.name}")
        return v
    sa, sb = ra["status"], rb["status"]
    if "error" in (sa, sb) and sa != sb:
        v.verdict = "divergent"
        side, run = (a, ra) if sa == "error" else (b, rb)
        v.reasons.append(f"status is error in {side.path.name}: {run.get('reason')}")
        return v
    if sa != "ok" or sb != "ok":
        why = dict.fromkeys(str(r.get("reason")) for r in (ra, rb) if r["status"] != "ok")  # once if both say it
        v.reasons.append(f"status {sa} vs {sb}: " + "; ".join(why))
        return v
    n = _run_n(ra, a.artifact)
    if ra["final_weights_sha256"] == rb["final_weights_sha256"]:
        # Bit-identical weights from the same data can only give the same counts.
        for fld, x, y in (
            ("final_accuracy", ra["final_accuracy"], rb["final_accuracy"]),
            ("curves.correct", ra["curves"].get("correct"), rb["curves"].get("correct")),
        ):
            if x != y:
                v.verdict = "divergent"
                v.reasons.append(
                    f"final_weights_sha256 equal but {fld} differs ({_short(x)} vs {_short(y)}): one "
                    "artifact was altered or mis-recorded"
                )
        # Equal recorded hashes say nothing about the files: each side's weights file (when kept)
        # must hash to what its artifact records, or the pair is divergent, naming the file.
        for side, run in ((a, ra), (b, rb)):
            _, why = _integrity(side, key, run)
            if why:
                v.verdict = "divergent"
                v.reasons.append(why)
        if v.verdict != "divergent":
            v.verdict = "identical"
        return v

    reasons: list[str] = []
    wa, why_a = _integrity(a, key, ra)
    wb, why_b = _integrity(b, key, rb)
    reasons += [r for r in (why_a, why_b) if r]
    # A NaN on one side only is a different result for every class of arm.
    for fld in ("any_nonfinite", "first_nonfinite_step"):
        if ra.get(fld) != rb.get(fld):
            reasons.append(f"{fld} is {ra.get(fld)} vs {rb.get(fld)}")
    if arm_class == CHAOTIC:
        v.verdict = "divergent" if reasons else "pending"
        v.reasons = reasons
        return v
    tol = STABLE_TOLERANCE
    if wa is not None and wb is not None:
        r = _weights_reason(wa, wb, tol.weights_atol)
        if r:
            reasons.append(r)
    else:
        missing = [s.path.name for s, w in ((a, wa), (b, wb)) if w is None]
        v.reasons.append(
            f"weights not compared (no weights file for {', '.join(missing)}): hash, curves and accuracy only"
        )
    ca, cb = ra["curves"], rb["curves"]
    for name, rtol in (("loss", tol.loss_rtol), ("grad_norm", tol.grad_norm_rtol)):
        if name in ca and name in cb:
            r = _close(name, ca[name], cb[name], rtol)
            if r:
                reasons.append(r)
    if "correct" in ca and "correct" in cb:
        xa, xb = np.array(ca["correct"]), np.array(cb["correct"])
        if xa.shape != xb.shape:
            reasons.append(f"curves.correct has {xa.size} vs {xb.size} points")
        elif xa.size and np.abs(xa - xb).max() > tol.samples:
            i = int(np.argmax(np.abs(xa - xb)))
            reasons.append(f"curves.correct[{i}] is {xa[i]} vs {xb[i]} (more than {tol.samples} sample apart)")
    # a head without classes (metric "loss") records no accuracy: its loss curve above is its metric
    no_accuracy = ra["final_accuracy"] is None and rb["final_accuracy"] is None
    gap = 0.0 if no_accuracy else abs(ra["final_accuracy"] - rb["final_accuracy"]) * n
    if gap > tol.samples + 1e-6:
        reasons.append(
            f"final_accuracy {ra['final_accuracy']:.4g} vs {rb['final_accuracy']:.4g} "
            f"({gap:.0f} samples apart, tolerance {tol.samples})"
        )
    v.verdict = "divergent" if reasons else "equivalent"
    v.reasons = reasons + v.reasons
    return v


def _short(x: object) -> str:
    s = json.dumps(x)
    return s if len(s) <= 40 else s[:37] + "..."


def distribution_test(arm: str, a: Loaded, b: Loaded) -> dict:
    """Mann-Whitney U on the final accuracies of every ok run of ``arm`` in a vs b; on the final losses for a head
    without classes (runs whose ``metric`` is "loss": a NaN loss ranks above every number)."""
    from scipy.stats import mannwhitneyu  # late: scipy (a slow import): loaded only where this statistic is computed

    ok = [r for x in (a, b) for r in x.runs.values() if r["arm"] == arm and r["status"] == "ok"]
    key = "final_loss" if any(r.get("metric") == "loss" for r in ok) else "final_accuracy"

    def value(r: dict) -> float:
        v = unnum(r[key]) if key == "final_loss" else r[key]
        return math.inf if v != v else v  # NaN: ranked as the worst loss, so it still counts

    xa = [value(r) for r in a.runs.values() if r["arm"] == arm and r["status"] == "ok"]
    xb = [value(r) for r in b.runs.values() if r["arm"] == arm and r["status"] == "ok"]
    out: dict = {
        "arm": arm,
        "test": "Mann-Whitney U (two-sided)",
        "alpha": ALPHA,
        "n_reference": len(xa),
        "n_other": len(xb),
        "median_reference": float(np.median(xa)) if xa else None,
        "median_other": float(np.median(xb)) if xb else None,
        "p_value": None,
    }
    if not can_reject(len(xa), len(xb)):
        out["verdict"] = "inconclusive"
        out["reason"] = (
            f"{len(xa)} vs {len(xb)} runs: the test cannot reach p < {ALPHA} with so few; sweep "
            "more seeds or windows (e.g. --seeds 0-9) on both sides"
        )
        return out
    if len(set(xa) | set(xb)) == 1:
        p = 1.0  # every run on both sides ended at the same accuracy: nothing to tell apart
    else:
        p = float(mannwhitneyu(xa, xb, alternative="two-sided").pvalue)
    out["p_value"] = p
    out["verdict"] = "divergent" if p < ALPHA else "equivalent"
    out["reason"] = f"{key} distributions: p = {p:.3g} ({'<' if p < ALPHA else '>='} {ALPHA})"
    return out


def _flatten(prefix: str, node: object, out: dict[str, object]) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            if any(k == n or k.endswith("_" + n) for n in NOISY_ENV_KEYS):
                continue
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif isinstance(node, list):
        out[prefix] = (
            ", ".join(str(x) for x in node)
            if all(not isinstance(x, dict | list) for x in node)
            else json.dumps(node, sort_keys=True)
        )
    else:
        out[prefix] = node


def environment_diff(a: dict, b: dict) -> list[tuple[str, object, object]]:
    """Differing fields of the two environments and numerics options (versions, CPU flags, devices, ...)."""
    fa: dict[str, object] = {}
    fb: dict[str, object] = {}
    _flatten("environment", a.get("environment", {}), fa)
    _flatten("environment", b.get("environment", {}), fb)
    _flatten("config.numerics", a.get("config", {}).get("numerics", {}), fa)
    _flatten("config.numerics", b.get("config", {}).get("numerics", {}), fb)
    keys = sorted(set(fa) | set(fb))
    return [(k, fa.get(k), fb.get(k)) for k in keys if fa.get(k) != fb.get(k)]


def compare(a: Loaded, b: Loaded, classes: dict[str, str]) -> Comparison:
    """Every matched pair of a (reference) and b, with chaotic arms settled by their distribution test."""
    check_comparable(a, b)
    keys = list(a.runs) + [k for k in b.runs if k not in a.runs]
    verdicts = [compare_runs(k, a.runs.get(k), b.runs.get(k), a, b, classes.get(k.arm, STABLE)) for k in keys]
    for v in verdicts:
        if v.key.arm not in classes:
            v.reasons.append("arm has no class (not in the defaults or --sensitivity): held to stable tolerances")
    tests = []
    for arm in dict.fromkeys(v.key.arm for v in verdicts if v.verdict == "pending"):
        t = distribution_test(arm, a, b)
        tests.append(t)
        for v in verdicts:
            if v.key.arm == arm and v.verdict == "pending":
                v.verdict = t["verdict"]
                v.reasons.append(f"chaotic arm, weights differ: {t['reason']}")
    return Comparison(a.path, b.path, verdicts, tests, environment_diff(a.artifact, b.artifact), workload_change(a, b))


# ---------------------------------------------------------------- rendering


def _fmt(x: object) -> str:
    return "(absent)" if x is None else str(x)


def render_text(comparisons: list[Comparison]) -> str:
    lines = []
    for c in comparisons:
        lines.append(f"compare {c.reference} (reference) with {c.other}")
        for v in c.verdicts:
            why = f": {'; '.join(v.reasons)}" if v.reasons else ""
            lines.append(f"  {v.verdict:<12} {v.label} [{v.arm_class}]{why}")
        for t in c.distribution_tests:
            lines.append(
                f"  test {t['arm']}: {t['verdict']}: {t['reason']} (medians {t['median_reference']} vs "
                f"{t['median_other']}, n {t['n_reference']} vs {t['n_other']})"
            )
        lines.append("  " + ", ".join(f"{k} {n}" for k, n in c.counts().items() if n))
        if c.workload_change:
            lines.append(f"  note: {c.workload_change}")
        lines.append(
            f"  environment diff ({len(c.environment_diff)} fields):"
            if c.environment_diff
            else "  environment diff: none"
        )
        for f, x, y in c.environment_diff:
            lines.append(f"    {f}: {_fmt(x)} -> {_fmt(y)}")
    return "\n".join(lines) + "\n"


def _md(x: object) -> str:
    return _fmt(x).replace("|", "\\|").replace("\n", " ")


def render_markdown(comparisons: list[Comparison]) -> str:
    icon = {"identical": "✅", "equivalent": "🟢", "inconclusive": "⚪", "missing": "➖", "divergent": "❌"}
    out = []
    for c in comparisons:
        out.append(f"### paritybench compare: `{c.other.name}` vs `{c.reference.name}` (reference)\n")
        out.append(", ".join(f"{icon[k]} {k}: {n}" for k, n in c.counts().items() if n) + "\n")
        if c.workload_change:
            out.append(f"> note: {_md(c.workload_change)}\n")
        out.append("| run | class | verdict | why |\n| --- | --- | --- | --- |")
        for v in c.verdicts:
            out.append(f"| {v.label} | {v.arm_class} | {icon[v.verdict]} {v.verdict} | {_md('; '.join(v.reasons))} |")
        if c.distribution_tests:
            out.append(
                "\n| chaotic arm | n (ref / other) | median accuracy (ref / other) | p | verdict |\n"
                "| --- | --- | --- | --- | --- |"
            )
            for t in c.distribution_tests:
                p = "-" if t["p_value"] is None else f"{t['p_value']:.3g}"
                out.append(
                    f"| {t['arm']} | {t['n_reference']} / {t['n_other']} | {t['median_reference']} / "
                    f"{t['median_other']} | {p} | {t['verdict']} |"
                )
        out.append(f"\n<details><summary>environment diff ({len(c.environment_diff)} fields)</summary>\n")
        out.append("| field | reference | other |\n| --- | --- | --- |")
        for f, x, y in c.environment_diff:
            out.append(f"| `{f}` | {_md(x)} | {_md(y)} |")
        out.append("\n</details>\n")
    return "\n".join(out) + "\n"


def render_json(comparisons: list[Comparison], status: int) -> str:
    return (
        json.dumps({"exit_status": status, "comparisons": [c.to_dict() for c in comparisons]}, indent=1, default=str)
        + "\n"
    )
