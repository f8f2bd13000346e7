"""A plot of ``paritybench localize``: each pair's ratio to the noise floor per (phase, tensor) over steps.

Input: the record ``paritybench localize --out`` writes (``pairs`` -> ``checks`` with ``step``, ``phase``,
``tensor``, ``ratio`` (null = infinite) and ``nonfinite``). One row of panels per pair, one panel per phase
that appears in the record, in the order the checks list them: the phases and tensors are read from the
record, never from a fixed list, so new phases (optimizer moments, an ``evaluation`` phase) and named layers
are drawn as they come. A panel with more than ``TOP`` tensors draws the ``TOP`` with the largest ratio and
says so in its title.

The y axis is logarithmic, so two values have no place on it: an infinite ratio (exactly one side
non-finite) is drawn as an ``x`` at the top of the pair's axis, and a ratio under ``FLOOR`` (zero for
identical tensors or both non-finite; 1e-70 where the floor itself underflows) at ``FLOOR``, both named in
the panel. The record's ``factor`` is the dashed line a pair must
cross to part; the first parting is a star on its tensor's line and a vertical line in every panel of its
pair.

This module imports no framework: matplotlib (headless Agg backend) only.
"""

from __future__ import annotations

import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

from paritybench.artifact.formats import LOCALIZE_RECORD, check_format
from paritybench.artifact.safeout import write_output
from paritybench.errors import ParityError

TOP = 5  # lines per panel: more than a handful of overlapping log-scale lines cannot be told apart
FLOOR = 1e-2  # ratios below this are drawn at it: 100x under the noise floor says nothing more than 100x


@dataclass
class Panel:
    """One (pair, phase) panel: the tensors drawn, each as (steps, ratios with None = infinite)."""

    pair: str
    phase: str
    series: dict[str, tuple[list[int], list[float | None]]]
    total_tensors: int
    first: dict | None = None  # the pair's first parting when it lies in this phase
    note: str = ""  # the pair's chaotic growth, on its row's first panel

    @property
    def title(self) -> str:
        shown = len(self.series)
        more = f" (top {shown} of {self.total_tensors} tensors by max ratio)" if shown < self.total_tensors else ""
        return f"{self.pair}: {self.phase}{more}" + (f"\n{self.note}" if self.note else "")


@dataclass
class Layout:
    """Panels row by row (one row per pair); ``columns`` is the widest row."""

    rows: list[list[Panel]] = field(default_factory=list)
    drawn: int = 0  # axes in the figure once plotted (the grid's unused cells removed)

    @property
    def panels(self) -> list[Panel]:
        return [p for row in self.rows for p in row]

    @property
    def columns(self) -> int:
        return max((len(r) for r in self.rows), default=0)


def _max_key(ratios: list[float | None]) -> float:
    """A tensor's rank for ``TOP``: its largest ratio, infinite counted as infinite."""
    return max((math.inf if r is None else r for r in ratios), default=0.0)


def layout(record: dict, top: int = TOP) -> Layout:
    """The panels of ``record`` (a localize record); raises ParityError when it is not one."""
    if not isinstance(record, dict) or record.get("kind") != "localize" or not isinstance(record.get("pairs"), list):
        raise ParityError(
            "not a localize record (no kind 'localize' with pairs): give the JSON file that "
            "paritybench localize --out wrote"
        )
    if not record["pairs"]:
        raise ParityError(
            "the localize record has no pairs to plot (every pair was skipped): install the "
            "frameworks it names and run localize again"
        )
    out = Layout()
    for pair in record["pairs"]:
        checks = pair.get("checks")
        name = f"{pair.get('a')} vs {pair.get('b')}"
        if not checks:
            raise ParityError(
                f"localize record, pair {name}: no per-step checks (the --format json printout "
                "leaves them out): plot the file paritybench localize --out wrote"
            )
        phases: dict[str, dict[str, tuple[list[int], list[float | None]]]] = {}
        for c in checks:
            steps, ratios = phases.setdefault(c["phase"], {}).setdefault(c["tensor"], ([], []))
            steps.append(int(c["step"]))
            ratios.append(c["ratio"])
        first = pair.get("first")
        row = []
        for phase, tensors in phases.items():
            ranked = sorted(tensors, key=lambda t: -_max_key(tensors[t][1]))
            keep = set(ranked[:top])
            if first is not None and first["phase"] == phase:
                keep.add(first["tensor"])  # the parting tensor is always drawn, ranked or not
            series = {t: tensors[t] for t in tensors if t in keep}  # record order: stable colours per panel
            row.append(
                Panel(
                    name, phase, series, len(tensors), first if first is not None and first["phase"] == phase else None
                )
            )
        g = pair.get("growth") or {}
        if g.get("chaotic") and row:  # one growth, said once: not a divergence per step
            row[0].note = f"then chaotic growth from step {g['from_step']}, x{g['rate']:.3g} per step"
        out.rows.append(row)
    return out


def _limits(rows: list[Panel], factor: float) -> tuple[float, float]:
    """The y range of one pair's row: its finite positive ratios and the factor, with room above and below."""
    vals = [r for p in rows for _, rs in p.series.values() for r in rs if r is not None and r > FLOOR]
    return FLOOR / 3.0, max(vals + [factor, 1.0]) * 10.0


def plot(record: dict, out: str | Path, overwrite: bool = False, top: int = TOP) -> tuple[Path, Layout]:
    """Draw ``record`` as a PNG at ``out`` (checked by the caller with ``check_output_path``); written
    atomically. Returns the path and the layout drawn (its panels are the figure's axes, in order)."""
    png, lay = render(record, top)
    return write_output(out, png, overwrite=overwrite), lay


def render(record: dict, top: int = TOP) -> tuple[bytes, Layout]:
    """``record`` drawn: the PNG's bytes and the layout drawn (report.html inlines them; ``plot`` writes them)."""
    import matplotlib  # late: matplotlib: loaded only where a figure is drawn

    matplotlib.use("Agg")  # headless: no display is ever needed
    from matplotlib.figure import Figure  # late: matplotlib: loaded only where a figure is drawn
    from matplotlib.ticker import MaxNLocator  # late: matplotlib: loaded only where a figure is drawn

    lay = layout(record, top)
    factor = float(record.get("factor") or 0.0)
    ncols, nrows = lay.columns, len(lay.rows)
    fig = Figure(figsize=(4.2 * ncols, 3.2 * nrows + 0.6), layout="constrained")
    grid = fig.subplots(nrows, ncols, squeeze=False)
    for r, row in enumerate(lay.rows):
        lo, hi = _limits(row, factor or 1.0)
        first = next((p.first for p in row if p.first is not None), None)
        for c in range(ncols):
            ax = grid[r][c]
            if c >= len(row):
                ax.remove()  # a pair with fewer phases than the widest row
                continue
            panel = row[c]
            notes = []
            for j, (tensor, (steps, ratios)) in enumerate(panel.series.items()):
                colour = f"C{j % 10}"
                ys = [hi / 3 if v is None else max(v, FLOOR) for v in ratios]
                ax.plot(steps, ys, marker="o", ms=3, lw=1.2, color=colour, label=tensor)
                inf_steps = [s for s, v in zip(steps, ratios, strict=True) if v is None]
                if inf_steps:
                    ax.plot(inf_steps, [hi / 3] * len(inf_steps), "x", ms=8, mew=2, color=colour)
                    notes.append("x at top: one side non-finite")
                if any(v is not None and v < FLOOR for v in ratios):
                    notes.append(f"bottom: ratio < {FLOOR:g}")
            if factor:
                ax.axhline(factor, color="k", ls="--", lw=1, label=f"factor {factor:g}")
            if first is not None:
                ax.axvline(first["step"], color="r", ls=":", lw=1)
            if panel.first is not None and panel.first["tensor"] in panel.series:
                f = panel.first
                y = hi / 3 if f.get("ratio") is None else f["ratio"]
                ax.plot(
                    [f["step"]],
                    [y],
                    marker="*",
                    ms=16,
                    color="r",
                    zorder=5,
                    label=f"first parting: step {f['step']}, {f['tensor']}",
                )
            ax.set_yscale("log")
            ax.set_ylim(lo, hi)
            ax.set_title(panel.title, fontsize=9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_xlabel("step")
            ax.set_ylabel("||A - B|| / noise floor")
            if notes:
                ax.text(
                    0.01,
                    0.01,
                    "; ".join(dict.fromkeys(notes)),
                    transform=ax.transAxes,
                    fontsize=7,
                    va="bottom",
                    color="dimgrey",
                )
            ax.legend(fontsize=7, loc="best")
    wl = record.get("workload")
    name = wl.get("name") if isinstance(wl, dict) else wl
    fig.suptitle(
        f"localize {name or ''}: ratio to the float32 noise floor at the same weights, "
        f"seed {record.get('seed')}, window {record.get('window')}",
        fontsize=11,
    )
    lay.drawn = len(fig.axes)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return buf.getvalue(), lay


def load(path: str | Path) -> dict:
    """A localize record from ``path`` in a format this paritybench reads, or a one-line ParityError."""
    try:
        with open(path) as fh:
            record = json.load(fh)
    except OSError as exc:
        raise ParityError(f"{path}: cannot read ({exc.strerror or exc}): give the localize --out file") from None
    except json.JSONDecodeError as exc:
        raise ParityError(f"{path}: not JSON ({exc.msg}, line {exc.lineno}): give the localize --out file") from None
    if isinstance(record, dict):  # anything else is refused by ``layout``
        check_format(record, LOCALIZE_RECORD, "localize record", path)
    return record


def is_localize_record(path: str | Path) -> bool:
    """True when ``path`` is a JSON object of kind ``localize`` (read cheaply; the real checks come later)."""
    try:
        a = json.loads(Path(path).read_text())
    except (OSError, ValueError, RecursionError):  # left to the artifact checks' one-line errors
        return False
    return isinstance(a, dict) and a.get("kind") == "localize"
