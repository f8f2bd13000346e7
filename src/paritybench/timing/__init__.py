"""``paritybench timing FILE [FILE2]``: read the timing files of ``make bench-timing``.

A timing file is pytest-benchmark's JSON (``--benchmark-json``), merged over the
suites' processes by ``bench/run_timing.py``; every benchmark carries in its
``extra_info`` a ``label`` (``jax-grad``, ``keras-tensorflow-fit``, ``xla-pair``,
...), what it measures, its floating-point operations (``paritybench.timing.flops``),
how many steps one call makes, the device and, for a step, the label of the
matmul benchmark of its own BLAS. From those this module computes, per file:
- each figure's median, IQR and rounds, flagged when the IQR exceeds 20% of the
  median (noise is reported, not hidden);
- achieved GFLOP/s and its fraction of the matmul throughput measured in the
  same session (its own framework's, and the best float32 one);
- ratios per step: Keras fit / JAX step, train_on_batch / JAX step, ... per backend.
With two files (two machines) the ratios and fractions stand side by side;
absolute times appear only in each file's own table, next to its device.
This module imports no framework: matplotlib (headless) and rich only.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.table import Table

from paritybench.artifact.inputs import read_json
from paritybench.artifact.safeout import write_output
from paritybench.errors import ParityError

NOISY_IQR = 0.20  # an IQR above 20% of the median: the figure is flagged as noisy
BACKENDS = ("tensorflow", "jax", "torch")
JAX_STEP = "jax-sgd"  # the denominator of the ratios: one jitted SGD step, the same work as one fit call
TARGET_FRACTION = 0.80  # the target: the jitted gradient step at >= 80% of XLA's matmul throughput (reported)


@dataclass(frozen=True)
class Figure:
    """One benchmark of a timing file: its statistics over single-call rounds and what it computed."""

    label: str
    measure: str  # "matmul", "step" or "train"
    suite: str
    device: str
    median: float  # seconds per call
    iqr: float  # seconds
    rounds: int
    flops: int  # per call
    steps_per_call: int
    blas: str | None = None  # label of the matmul figure of the same framework's BLAS
    fastest: float | None = None  # the fastest round, seconds: the least disturbed by a busy machine
    extra: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def per_step(self) -> float:
        """Median seconds per training step (a 10-step scan call counts as 10)."""
        return self.median / self.steps_per_call

    @property
    def iqr_fraction(self) -> float:
        return self.iqr / self.median

    @property
    def noisy(self) -> bool:
        """IQR above 20% of the median: the median is not a figure to quote without its spread."""
        return self.iqr > NOISY_IQR * self.median

    @property
    def gflops(self) -> float:
        """Achieved throughput, GFLOP/s, from the median."""
        return self.flops / self.median / 1e9


@dataclass(frozen=True)
class TimingFile:
    """A timing file as the report sees it."""

    path: Path
    machine: str
    quick: bool
    created: str
    figures: dict[str, Figure]
    skipped: dict[str, str]

    @property
    def name(self) -> str:
        return self.path.stem


@dataclass(frozen=True)
class Ratio:
    """``numerator`` per step over ``denominator`` per step (None when a side was not measured)."""

    name: str
    numerator: str
    denominator: str
    value: float | None
    noisy: bool


def load(path: str | Path) -> TimingFile:
    """Read and check a timing file; every problem is one ParityError naming the file and the fix."""
    p = Path(path)
    hint = "pass a file written by `make bench-timing` (results/timing/*.json)"

    # a directory, bad bytes, deep nesting: one line each; pytest-benchmark writes with json.dumps defaults
    raw = read_json(p, "timing file", hint, strict=False)
    if not isinstance(raw, dict) or not isinstance(raw.get("benchmarks"), list) or "machine_info" not in raw:
        raise ParityError(f"timing file {p} is not pytest-benchmark JSON (no machine_info/benchmarks): {hint}")
    info = raw["machine_info"].get("paritybench") if isinstance(raw["machine_info"], dict) else None
    if not isinstance(info, dict):
        raise ParityError(
            f"timing file {p} has no machine_info.paritybench: it was not written by "
            f"paritybench's timing suites; {hint}"
        )
    figures: dict[str, Figure] = {}
    for i, b in enumerate(raw["benchmarks"]):
        figures_entry = _figure(p, i, b)
        if figures_entry.label in figures:
            raise ParityError(
                f"timing file {p}: label {figures_entry.label!r} appears twice: the file was merged wrongly; {hint}"
            )
        figures[figures_entry.label] = figures_entry
    if not figures:
        raise ParityError(f"timing file {p} holds no benchmarks: {hint}")
    return TimingFile(
        path=p,
        machine=str(info.get("machine", p.stem)),
        quick=bool(info.get("quick", False)),
        created=str(raw.get("datetime", "")),
        figures=figures,
        skipped={str(k): str(v) for k, v in (info.get("skipped") or {}).items()},
    )


def _figure(p: Path, i: int, b: Any) -> Figure:
    where = f"timing file {p}: benchmark {i}"
    if not isinstance(b, dict):
        raise ParityError(f"{where} is not an object: the file is damaged; re-run make bench-timing")
    extra, stats = b.get("extra_info") or {}, b.get("stats") or {}
    if "label" not in extra:
        raise ParityError(
            f"{where} ({b.get('name')}) has no extra_info.label: it was not written by "
            "paritybench's timing suites; re-run make bench-timing"
        )
    try:
        median, iqr, rounds = float(stats["median"]), float(stats["iqr"]), int(stats["rounds"])
        flops, steps = int(extra["flops"]), int(extra.get("steps_per_call", 1))
    except (KeyError, TypeError, ValueError) as exc:
        raise ParityError(
            f"{where} ({extra['label']}) lacks a usable {exc}: the file is damaged; re-run make bench-timing"
        ) from None
    if not (median > 0 and math.isfinite(median) and iqr >= 0 and steps >= 1):
        raise ParityError(
            f"{where} ({extra['label']}) has median {median} s, IQR {iqr} s, {steps} steps per call: "
            "a median must be positive; re-run make bench-timing"
        )
    return Figure(
        label=str(extra["label"]),
        measure=str(extra.get("measure", "")),
        suite=str(extra.get("suite", "")),
        device=str(extra.get("device", "?")),
        median=median,
        iqr=iqr,
        rounds=rounds,
        flops=flops,
        steps_per_call=steps,
        blas=extra.get("blas"),
        extra=dict(extra),
        fastest=float(stats["min"]) if isinstance(stats.get("min"), int | float) else None,
    )


def own_matmul_fraction(tf: TimingFile, fig: Figure) -> float | None:
    """``fig``'s GFLOP/s over that of the matmul pair of its own framework's BLAS, same session."""
    ref = tf.figures.get(fig.blas) if fig.blas else None
    return fig.gflops / ref.gflops if ref else None


def best_f32_matmul(tf: TimingFile) -> Figure | None:
    """The fastest float32 matmul pair of the session: the machine's limit as measured."""
    pairs = [
        f
        for f in tf.figures.values()
        if f.measure == "matmul" and "-pair" in f.label and f.extra.get("dtype") == "float32"
    ]
    return max(pairs, key=lambda f: f.gflops, default=None)


def ratio_definitions() -> list[tuple[str, str, str]]:
    """(name, numerator label, denominator label) of every ratio the report prints, in order."""
    out = []
    for b in BACKENDS:
        k = f"keras-{b}"
        out += [
            (f"{k} fit / jax step", f"{k}-fit", JAX_STEP),
            (f"{k} train_on_batch / jax step", f"{k}-train_on_batch", JAX_STEP),
            (f"{k} train_function / jax step", f"{k}-train_function", JAX_STEP),
            (f"{k} fit / its train_function", f"{k}-fit", f"{k}-train_function"),
        ]
    out += [
        ("jax scan, per step / jax step", "jax-scan", JAX_STEP),
        ("jax step / jax grad", JAX_STEP, "jax-grad"),
        ("reference-f64 / jax step", "reference-f64-sgd", JAX_STEP),
    ]
    return out


def ratios(tf: TimingFile) -> list[Ratio]:
    """Every ratio of median per-step times; flagged noisy when either side is."""
    out = []
    for name, num, den in ratio_definitions():
        a, b = tf.figures.get(num), tf.figures.get(den)
        if a is None or b is None:
            out.append(Ratio(name, num, den, None, False))
        else:
            out.append(Ratio(name, num, den, a.per_step / b.per_step, a.noisy or b.noisy))
    return out


def column_names(files: list[TimingFile]) -> list[str]:
    """One header per file: its name, numbered when two files share a name."""
    names = [tf.name for tf in files]
    if len(set(names)) < len(names):
        return [f"{i + 1}: {n}" for i, n in enumerate(names)]
    return names


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


def _ratio_text(r: Ratio) -> str:
    if r.value is None:
        return "-"
    return f"{r.value:.2f}x" + (" NOISY" if r.noisy else "")


def _short_device(device: str) -> str:
    return device.replace("(R)", "").replace("(TM)", "").replace(" Processor", "").replace("  ", " ")


def figures_tables(tf: TimingFile) -> list:
    """Rich tables of one file's figures, one per device: absolute times under the device that produced them."""
    best = best_f32_matmul(tf)
    order = {"matmul": 0, "step": 1, "train": 2}
    tables = []
    for device in sorted({f.device for f in tf.figures.values()}):
        t = Table(
            title=f"{tf.name} ({tf.machine}) on {_short_device(device)}"
            + ("\nQUICK MODE: a smoke test, not a measurement" if tf.quick else ""),
            caption=f"GFLOP/s from the median; own matmul = the pair (x @ W0, x.T @ dh) through the figure's own "
            f"BLAS (its -pair figure); best = {best.label if best else '-'}, the fastest f32 pair; "
            f"NOISY = IQR > {NOISY_IQR:.0%} of the median",
        )
        for col in ("figure", "rounds", "median ms", "IQR ms", "IQR/med", "GFLOP/s", "% own matmul", "% best"):
            t.add_column(col, justify="left" if col in ("figure", "% own matmul") else "right", no_wrap=True)
        for f in sorted(
            (f for f in tf.figures.values() if f.device == device), key=lambda f: (order.get(f.measure, 3), f.label)
        ):
            per = f" /{f.steps_per_call}" if f.steps_per_call > 1 else ""
            own = own_matmul_fraction(tf, f)
            t.add_row(
                f.label + per,
                str(f.rounds),
                f"{1e3 * f.median:.2f}",
                f"{1e3 * f.iqr:.2f}",
                f"{100 * f.iqr_fraction:.0f}%" + (" NOISY" if f.noisy else ""),
                f"{f.gflops:.1f}",
                "-" if own is None else f"{_pct(own)} {f.blas.removesuffix('-pair')}",
                _pct(f.gflops / best.gflops) if best else "-",
            )
        tables.append(t)
    return tables


def compile_table(tf: TimingFile):
    """Compile and first-call seconds, measured once and kept out of every step time (None if none recorded)."""
    keys = ("lower_seconds", "compile_seconds", "first_fit_seconds", "first_call_seconds")
    rows = [f for f in tf.figures.values() if any(k in f.extra for k in keys)]
    if not rows:
        return None
    t = Table(title=f"{tf.name}: compile and first calls (seconds, once; never in a step time)")
    t.add_column("figure")
    for k in keys:
        t.add_column(k.removesuffix("_seconds").replace("_", " "), justify="right")
    for f in sorted(rows, key=lambda f: f.label):
        t.add_row(f.label, *(f"{float(f.extra[k]):.3f}" if k in f.extra else "-" for k in keys))
    return t


def ratios_table(files: list[TimingFile]):
    """Ratios per step, one column per file (no absolute times: they compare across machines)."""
    t = Table(title="per-step ratios (medians; jax step = one jitted SGD step, gradient + update)")
    t.add_column("ratio")
    for name in column_names(files):
        t.add_column(name, justify="right")
    per_file = [ratios(tf) for tf in files]
    for i, (name, _, _) in enumerate(ratio_definitions()):
        cells = [_ratio_text(rs[i]) for rs in per_file]
        if all(c == "-" for c in cells):
            continue
        t.add_row(name, *cells)
    return t


def fractions_table(files: list[TimingFile]):
    """Each step figure's GFLOP/s as a share of its own BLAS's matmul, side by side."""
    t = Table(
        title=f"achieved GFLOP/s as a share of the same session's matmul pair of the same BLAS "
        f"(flag: IQR > {NOISY_IQR:.0%} of median)"
    )
    t.add_column("figure")
    for name in column_names(files):
        t.add_column(name, justify="right")
    labels = sorted({f.label for tf in files for f in tf.figures.values() if f.measure in ("step", "train")})
    for label in labels:
        cells = []
        for tf in files:
            f = tf.figures.get(label)
            own = own_matmul_fraction(tf, f) if f else None
            cells.append("-" if own is None else _pct(own) + (" NOISY" if f.noisy else ""))
        t.add_row(label, *cells)
    return t


def target_line(tf: TimingFile) -> str:
    """The issue's target, reported (never asserted): jax-grad's share of XLA's matmul throughput."""
    g = tf.figures.get("jax-grad")
    frac = own_matmul_fraction(tf, g) if g else None
    if frac is None:
        return f"{tf.name}: jax-grad or its XLA matmul figure was not measured"
    verdict = "meets" if frac >= TARGET_FRACTION else "misses"
    pair = tf.figures[g.blas]
    # On a shared machine the fastest rounds are the least disturbed: their ratio is a second opinion.
    fastest = (
        f"; fastest rounds: {_pct((g.flops / g.fastest) / (pair.flops / pair.fastest))}"
        if g.fastest and pair.fastest
        else ""
    )
    return (
        f"{tf.name}: jax-grad {1e3 * g.median:.2f} ms, {g.gflops:.0f} GFLOP/s = {_pct(frac)} of {g.blas} "
        f"({pair.gflops:.0f} GFLOP/s), medians: {verdict} the {TARGET_FRACTION:.0%} target{fastest}"
        + (" NOISY" if g.noisy or pair.noisy else "")
    )


def plot(files: list[TimingFile], out: str | Path, overwrite: bool = False) -> Path:
    """Two panels as a PNG (headless): per-step ratios, and shares of own-BLAS matmul throughput."""
    import matplotlib  # late: matplotlib: loaded only where a figure is drawn

    matplotlib.use("Agg")  # headless: no display is ever needed
    from matplotlib.figure import Figure as MplFigure  # late: matplotlib: loaded only where a figure is drawn
    from matplotlib.patches import Patch  # late: matplotlib: loaded only where a figure is drawn
    from matplotlib.ticker import FuncFormatter, LogLocator  # late: matplotlib: loaded only where a figure is drawn

    fig = MplFigure(figsize=(14, 6.5), layout="constrained")
    ax_r, ax_f = fig.subplots(1, 2)
    width = 0.8 / len(files)
    colors = [f"C{j}" for j in range(len(files))]
    names = [
        n for i, (n, _, _) in enumerate(ratio_definitions()) if any(ratios(tf)[i].value is not None for tf in files)
    ]
    step_labels = sorted(
        {
            f.label
            for tf in files
            for f in tf.figures.values()
            if f.measure in ("step", "train") and own_matmul_fraction(tf, f) is not None
        }
    )
    for j, tf in enumerate(files):
        rs = {r.name: r for r in ratios(tf)}
        for i, n in enumerate(names):
            r = rs[n]
            if r.value is not None:
                ax_r.barh(i + j * width, r.value, height=width, color=colors[j], hatch="//" if r.noisy else None)
                ax_r.annotate(
                    f"{r.value:.2f}",
                    (r.value, i + j * width),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7,
                )
        for i, lab in enumerate(step_labels):
            f = tf.figures.get(lab)
            own = own_matmul_fraction(tf, f) if f else None
            if own is not None:
                ax_f.barh(i + j * width, 100 * own, height=width, color=colors[j], hatch="//" if f.noisy else None)
                ax_f.annotate(
                    f"{100 * own:.0f}%",
                    (100 * own, i + j * width),
                    xytext=(3, 0),
                    textcoords="offset points",
                    va="center",
                    fontsize=7,
                )
    ax_r.set_yticks([i + (len(files) - 1) * width / 2 for i in range(len(names))], names, fontsize=8)
    ax_r.set_xscale("log")
    ax_r.xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    ax_r.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax_r.xaxis.set_minor_formatter(FuncFormatter(lambda v, _: ""))
    ax_r.axvline(1.0, color="k", lw=0.8)
    ax_r.invert_yaxis()
    ax_r.set_xlabel("median per-step time / that of the jitted JAX SGD step (log scale)")
    ax_r.set_title("per-step ratios")
    ax_f.set_yticks([i + (len(files) - 1) * width / 2 for i in range(len(step_labels))], step_labels, fontsize=8)
    ax_f.axvline(100 * TARGET_FRACTION, color="grey", ls="--", lw=0.8)
    ax_f.invert_yaxis()
    ax_f.set_xlabel("achieved GFLOP/s, % of the same BLAS's matmul pair")
    ax_f.set_title("share of the same session's matmul throughput")
    handles = [
        Patch(color=colors[j], label=f"{n} ({tf.machine})")
        for j, (n, tf) in enumerate(zip(column_names(files), files, strict=True))
    ]
    handles.append(Patch(facecolor="white", edgecolor="k", hatch="//", label=f"IQR > {NOISY_IQR:.0%} of median"))
    fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return write_output(out, buf.getvalue(), overwrite=overwrite)


def default_plot_path(files: list[TimingFile]) -> Path:
    stem = "-vs-".join(tf.name for tf in files)
    return Path("results") / "reports" / f"timing-{stem}.png"


def print_report(console, files: list[TimingFile]) -> None:
    """Every table: one figures table per file, then ratios and shares side by side."""
    for tf in files:
        for table in figures_tables(tf):
            console.print(table)
        compiled = compile_table(tf)
        if compiled is not None:
            console.print(compiled)
        for suite, reason in sorted(tf.skipped.items()):
            console.print(f"{tf.name}: {suite} skipped: {reason}", markup=False)
    console.print(ratios_table(files))
    console.print(fractions_table(files))
    for tf in files:
        console.print(target_line(tf), markup=False)
        noisy = sorted(f.label for f in tf.figures.values() if f.noisy)
        if noisy:
            console.print(f"{tf.name}: IQR above {NOISY_IQR:.0%} of the median (noisy): {', '.join(noisy)}")


def merge_parts(parts: list[tuple[str, dict]], skipped: dict[str, str]) -> dict:
    """One timing file from the JSON of each suite's pytest process (``bench/run_timing.py``).

    The first part's machine_info and commit_info are kept (the core suite, which
    also names the machine); each framework's read-back is gathered from the
    process that loaded it; every benchmark keeps the suite it ran in; suites
    that did not run are listed with their reason.
    """
    if not parts:
        raise ParityError("no timing suite ran a benchmark: nothing to write; see the skip reasons above")
    first = parts[0][1]
    merged = {k: v for k, v in first.items() if k != "benchmarks"}
    info = json.loads(json.dumps(merged["machine_info"]))  # a deep copy: the parts stay as read
    pb = info.setdefault("paritybench", {})
    frameworks = dict(pb.get("frameworks", {}))
    suites = {}
    benchmarks = []
    for name, part in parts:
        part_pb = part.get("machine_info", {}).get("paritybench", {})
        for fw, rb in part_pb.get("frameworks", {}).items():
            frameworks.setdefault(fw, rb)
        suites[name] = {
            "benchmarks": len(part["benchmarks"]),
            "frameworks": sorted(part_pb.get("frameworks", {})),
            "datetime": part.get("datetime"),
        }
        for b in part["benchmarks"]:
            b = dict(b)
            b["extra_info"] = {"suite": name, **(b.get("extra_info") or {})}
            benchmarks.append(b)
    pb.update({"frameworks": frameworks, "suites": suites, "skipped": dict(skipped)})
    pb.pop("suite", None)  # per process; the merged file holds them all under "suites"
    merged["machine_info"] = info
    merged["benchmarks"] = benchmarks
    return merged
