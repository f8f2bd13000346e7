"""Why two arms part: every switch of ``paritybench.switches`` applied to the diverging arm, the pair re-run
teacher-forced over the parted steps, and the switches that bring it back under the noise floor.

For a pair that parts (``localize.localize_pair``'s first parting at step k), each switch changes ONE
convention of arm a to arm b's (a ``Refusal`` where it cannot, with the reason; where a cannot be switched
and b is not the workload's reference, b is switched toward a instead); ``localize_pair`` runs the switched
pair over steps 0..k+1 (capped at the run's steps: the parted step and the next, enough to see the parted
tensor again after one more update) and the switch *closes* the gap where that pair never parts
(``localize.FACTOR``). ``ratio_before`` and ``ratio_after`` are the largest ratio to the noise floor over
those same steps, unswitched and switched (infinite where a side is non-finite). Conventions only *suggest*
(a switch whose rows differ is marked so): every applicable switch is tried, so a workload that declares
nothing is explained all the same. Where none closes, the best three that reduce it are tried in pairs, and where
no pair of them closes, those with the applied switches that show nothing alone, in pairs and threes
(``_combine``)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from typing import Any

from paritybench.artifact import formats
from paritybench.pipeline.localize import FACTOR, Context, PairResult, localize_pair
from paritybench.switches import SWITCHES, Refusal, Switch, Target
from paritybench.workloads.base import Arm

TRIED_IN_PAIRS = 3  # where no switch closes: the best this many, two at a time
MOST_TOGETHER = 4  # where no pair of those closes: with the others applied, this many at most, in pairs and threes
# the declared rows that name where an arm's random draws come from (dropout-rng's ``dropout mask``): arms whose
# draws differ train on other masks at every step, which no switch of a convention makes equal
RANDOM_ROWS = ("dropout mask",)


@dataclass
class Tried:
    switch: Switch
    applied_to: str | None
    rows: dict[str, list]
    suggested: bool
    ratio_before: float
    ratio_after: float | None = None
    closes: bool = False
    refused: str | None = None
    arm: Arm | None = None  # the switched arm (for combinations)
    side: str = "a"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.switch.name,
            "family": self.switch.family,
            "demonstrated_by": self.switch.demonstrated_by,
            "applied_to": self.applied_to,
            "rows": self.rows,
            "ratio_before": _num(self.ratio_before),
            "ratio_after": None if self.ratio_after is None else _num(self.ratio_after),
            "closes": self.closes,
            "refused": self.refused,
        }


@dataclass
class Explanation:
    a: str
    b: str
    parted: dict[str, Any] | None
    verdict: str
    tried: list[Tried] = field(default_factory=list)
    combination: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "a": self.a,
            "b": self.b,
            "parted": self.parted,
            "verdict": self.verdict,
            "switches": [t.to_dict() for t in self.tried],
            "combination": self.combination,
        }


def _num(x: float) -> float | None:
    """A ratio for JSON: a non-finite one (a side went non-finite) is null, as localize's records write it."""
    return x if math.isfinite(x) else None


def _largest(result: PairResult, steps: int) -> float:
    rs = [c.ratio for c in result.checks if c.step < steps]
    return max(rs) if rs else 0.0


def _rank_key(t: Tried) -> tuple:
    if t.refused is not None or t.ratio_after is None:
        return (2, math.inf, t.switch.name)
    if t.closes:  # a narrow switch before a broad one (which changes several settings at once), then by ratio
        return (0, t.switch.broad, t.ratio_after)
    return (1, t.ratio_after, t.switch.broad, 0 if t.suggested else 1)


def explain_pair(
    ctx: Context,
    a: Arm,
    b: Arm,
    rows: dict[str, dict],
    cache: dict,
    switches: tuple[Switch, ...] = SWITCHES,
) -> Explanation:
    """One pair: its first parting (the whole run, as localize), then every switch over the parted steps; a pair
    whose arms draw their random masks from different generators is refused before anything trains."""
    masks = random_draws_differ(a, b)
    if masks is not None:
        return Explanation(a.name, b.name, None, masks)
    base = localize_pair(ctx, a, b, cache)
    if base.first is None:
        return Explanation(a.name, b.name, None, "does not part: nothing to explain")
    f = base.first
    parted = {"step": f.step, "phase": f.phase, "tensor": f.tensor, "ratio": _num(f.ratio)}
    window = min(ctx.steps, f.step + 2)
    short = replace(ctx, steps=window, seconds={})
    before = _largest(base, window)
    rows_a, rows_b = rows.get(a.name, {}), rows.get(b.name, {})
    ref = ctx.workload.reference
    state = ctx.workload.model.initial_state()
    probe = Target(ctx.workload, b, rows_a, rows_b, ctx.lr, ctx.x[:64], ctx.y[:64], ctx.init, state, ctx.batches_for)
    scache: dict = {}
    tried: list[Tried] = []
    for sw in switches:
        t = Tried(sw, None, sw.row_values(rows_a, rows_b), sw.suggested(rows_a, rows_b), before)
        try:
            t.arm, t.applied_to = _apply(sw, a, probe), a.name
        except Refusal as why:
            t.refused = str(why)
            if b.name != ref:  # a cannot be switched: b toward a
                try:
                    t.arm = _apply(sw, b, _toward(probe, a, rows_b, rows_a))
                    t.applied_to, t.side, t.refused = b.name, "b", None
                except Refusal as why_b:
                    t.refused = f"{why}; {b.name}: {why_b}"
        if t.arm is not None:
            t.arm = replace(t.arm, name=f"{t.arm.name}+{_slug(sw.name)}")
            try:
                result = _run(short, a, b, t.arm, t.side, scache)
            except Exception as exc:  # the switched arm's own code failed: recorded, the other switches go on
                t.refused, t.arm = f"the switched arm failed: {type(exc).__name__}: {_line(exc)}", None
            else:
                t.ratio_after, t.closes = _largest(result, window), result.first is None
        tried.append(t)
    tried.sort(key=_rank_key)
    combination, again = None, None
    if not any(t.closes for t in tried):
        combination = _combine(short, a, b, tried, before, probe, rows, scache)
    elif window < ctx.steps:
        full = replace(ctx, seconds={})
        again, combination = _follow_up(full, a, b, tried[0], switches, probe, rows, cache)
        short.seconds.update({f"whole run: {k}": v for k, v in full.seconds.items()})
    ctx.seconds[f"explain {a.name} vs {b.name}"] = sum(short.seconds.values())
    text = verdict(before, tried, combination, again)
    return Explanation(a.name, b.name, parted, text, tried, combination)


def random_draws_differ(a: Arm, b: Arm) -> str | None:
    """The refusal verdict where ``a`` and ``b`` declare different sources of their random draws (``RANDOM_ROWS``
    in ``Arm.conventions``: dropout-rng's masks), else None."""
    for row in RANDOM_ROWS:
        va, vb = a.conventions.get(row), b.conventions.get(row)
        if va is not None and vb is not None and va != vb:
            return (
                f"refused: the arms draw their {row}s from different generators ({a.name}: {va}; {b.name}: {vb}), "
                "which no switch makes equal: compare their final accuracies over seeds (sweep, then compare)"
            )
    return None


def _apply(sw: Switch, arm: Arm, target: Target) -> Arm:
    """``sw`` on ``arm``: a switch whose probe of the arm's code fails is refused with the failure, not a crash."""
    try:
        return sw.apply(arm, target)
    except Refusal:
        raise
    except Exception as exc:
        raise Refusal(f"could not be applied to {arm.name}: {type(exc).__name__}: {_line(exc)}") from exc


def _line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [""])[0][:300]


def _toward(probe: Target, other: Arm, rows_self: dict, rows_other: dict) -> Target:
    return replace(probe, other=other, rows_self=rows_self, rows_other=rows_other)


def _slug(name: str) -> str:
    return "-".join("".join(c if c.isalnum() else " " for c in name).split())


def _run(short: Context, a: Arm, b: Arm, switched: Arm, side: str, cache: dict) -> PairResult:
    return localize_pair(short, switched, b, cache) if side == "a" else localize_pair(short, a, switched, cache)


def _follow_up(
    full: Context, a: Arm, b: Arm, top: Tried, switches: tuple[Switch, ...], probe: Target, rows: dict, cache: dict
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The closing switch's pair over the whole run: where it parts again later (a second mechanism that the
    first parting's steps did not reach, as a learning-rate drop), that parting and the first other switch, applied
    on top, that closes it over its own steps (a narrow one before a broad one), with the two together over the
    whole run as the combination; (None, None) where the switched pair never parts."""
    whole = _run(full, a, b, top.arm, top.side, cache) if top.arm is not None else None
    if whole is None or whole.first is None:
        return None, None
    f = whole.first
    again = {"step": f.step, "phase": f.phase, "tensor": f.tensor, "ratio": _num(f.ratio)}
    short = replace(full, steps=min(full.steps, f.step + 2), seconds={})
    me, other = (a, b) if top.side == "a" else (b, a)
    target = _toward(probe, other, rows.get(me.name, {}), rows.get(other.name, {}))
    wcache: dict = {}  # this window's trajectories: not the first parting's window
    closing: list[tuple[Switch, Arm]] = []
    for sw in switches:
        if sw is top.switch:
            continue
        try:
            both = _apply(sw, top.arm, target)  # type: ignore[arg-type]
        except Refusal:
            continue
        both = replace(both, name=f"{me.name}+{_slug(top.switch.name)}+{_slug(sw.name)}")
        try:
            result = _run(short, a, b, both, top.side, wcache)
        except Exception:  # the switched arm's own code failed: not a second cause
            continue
        if result.first is None:
            closing.append((sw, both))
    full.seconds.update(short.seconds)
    if not closing:
        return again, None
    sw, both = sorted(closing, key=lambda c: c[0].broad)[0]
    together = _run(full, a, b, both, top.side, cache)
    combination = {
        "names": [top.switch.name, sw.name],
        "ratio_after": _num(_largest(together, full.steps)),
        "closes": together.first is None,
    }
    return again, combination


def _combine(
    short: Context, a: Arm, b: Arm, tried: list[Tried], before: float, probe: Target, rows: dict, cache: dict
) -> dict[str, Any] | None:
    """The best combination of switches applied together (each on the previous one's arm), or None: the best
    ``TRIED_IN_PAIRS`` that reduce the gap two at a time; where no pair of them closes, also the applied narrow
    switches that do not widen the gap alone (a difference the others hide: batchnorm-momentum's ``torch-bn``
    differs from Keras in momentum, epsilon and variance estimator, and only the momentum shows alone), in
    ``tried``'s order (those whose conventions differ first), ``MOST_TOGETHER`` at most, in pairs and then threes;
    the fewest that close, else the lowest ratio."""
    reducing = [t for t in tried if t.ratio_after is not None and t.ratio_after < before][:TRIED_IN_PAIRS]
    found = _best_of(short, a, b, itertools.combinations(reducing, 2), probe, rows, cache)
    if found is not None and found["closes"]:
        return found
    hidden = [
        t
        for t in tried
        if all(t is not r for r in reducing)
        and not t.switch.broad  # several settings at once: it says nothing of which one together with others
        and t.ratio_after is not None
        and t.ratio_after <= before
    ]
    hidden.sort(key=lambda t: not t.suggested)
    extended = (reducing + hidden)[:MOST_TOGETHER]
    for size in (2, 3):
        sets = [
            c
            for c in itertools.combinations(extended, size)
            if size > 2 or any(all(t is not r for r in reducing) for t in c)  # pairs of reducing ones: tried above
        ]
        more = _best_of(short, a, b, sets, probe, rows, cache)
        if more is not None and (found is None or _better(more, found)):
            found = more
        if found is not None and found["closes"]:
            break
    return found


def _better(x: dict[str, Any], y: dict[str, Any]) -> bool:
    """Is combination ``x`` better than ``y``: one that closes before one that does not, then the fewer switches,
    then narrow switches only before a set with the broad forward-pass switch, then the lower ratio after."""
    broad = {sw.name for sw in SWITCHES if sw.broad}

    def key(c):
        r = c["ratio_after"]
        wide = any(n in broad for n in c["names"])
        return (not c["closes"], len(c["names"]) if c["closes"] else 0, wide, math.inf if r is None else r)

    return key(x) < key(y)


def _best_of(short: Context, a: Arm, b: Arm, sets, probe: Target, rows: dict, cache: dict) -> dict[str, Any] | None:
    found: dict[str, Any] | None = None
    for group in sets:
        first = group[0]
        if first.arm is None or any(t.side != first.side for t in group):
            continue
        me, other = (a, b) if first.side == "a" else (b, a)
        toward = _toward(probe, other, rows.get(me.name, {}), rows.get(other.name, {}))
        arm = first.arm
        try:
            for t in group[1:]:
                arm = _apply(t.switch, arm, toward)
        except Refusal:
            continue
        arm = replace(arm, name="+".join([me.name, *(_slug(t.switch.name) for t in group)]))
        try:
            result = _run(short, a, b, arm, first.side, cache)
        except Exception:  # together they fail where each alone ran: no combination of these
            continue
        after = _largest(result, short.steps)
        c = {"names": [t.switch.name for t in group], "ratio_after": _num(after), "closes": result.first is None}
        if found is None or _better(c, found):
            found = c
    return found


def ratio_text(r: float | None) -> str:
    """A ratio as text: 9.54e3, 1.3, non-finite."""
    if r is None or not math.isfinite(r):
        return "non-finite"
    return f"{r:.3g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _x(r: float | None) -> str:
    t = ratio_text(r)
    return t if t == "non-finite" else t + "x"


def verdict(
    before: float, tried: list[Tried], combination: dict[str, Any] | None, again: dict[str, Any] | None = None
) -> str:
    """The pair's one sentence."""
    closing = [t for t in tried if t.closes]
    if closing:
        t = closing[0]
        demo = f" (demonstrated by {t.switch.demonstrated_by})" if t.switch.demonstrated_by else ""
        also = f"; also closing: {', '.join(c.switch.name for c in closing[1:])}" if len(closing) > 1 else ""
        text = f"{t.switch.name} closes the gap: {_x(before)} -> {_x(t.ratio_after)} the noise floor{demo}{also}"
        if again is None:
            return text
        where = f"step {again['step']} ({again['phase']}, {again['tensor']})"
        if combination is None:
            return f"{text}; switched, the pair parts again at {where}, which no other switch closes"
        both = " + ".join(combination["names"])
        whole = "close the whole run" if combination["closes"] else "do not close the whole run"
        return (
            f"{text}; switched, the pair parts again at {where}, which {combination['names'][1]} closes: "
            f"together {both} {whole} ({_x(combination['ratio_after'])} the noise floor)"
        )
    applied = [t for t in tried if t.refused is None and t.ratio_after is not None]
    if not applied:
        return "no switch closes the gap: none applies to this pair (each refused: see switches)"
    best = applied[0]
    if best.ratio_after is not None and not best.ratio_after < before:
        return f"no switch closes the gap or reduces it ({len(applied)} applied, {_x(before)} the noise floor)"
    text = (
        f"no switch closes the gap; largest reduction: {best.switch.name}, {_x(before)} -> {_x(best.ratio_after)} "
        "the noise floor"
    )
    if combination is not None:
        both = " + ".join(combination["names"])
        text += f"; together {both}: {_x(combination['ratio_after'])}" + (" (closes)" if combination["closes"] else "")
    return text


def record(workload_name: str, explanations: list[Explanation]) -> dict[str, Any]:
    """The explain record: the keys the report reads (docs/localize.md, section Explain, lists them)."""
    return {
        formats.FORMAT_FIELD: formats.EXPLAIN_RECORD,
        "kind": "explain",
        "workload": workload_name,
        "factor": FACTOR,
        "pairs": [e.to_dict() for e in explanations],
    }
