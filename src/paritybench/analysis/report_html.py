"""report.html: the report on one page that can be mailed or attached to an issue as it is.

One file: every figure is a PNG inlined as a base64 ``data:`` URI, the styles are one ``<style>`` element,
and nothing refers to the network (no stylesheet, script, font or image from elsewhere). A
Content-Security-Policy ``<meta>`` element lets the browser load nothing but ``data:`` images and the
inline styles, so a reference that slipped in would show as a broken image, never a request.

Every string taken from an artifact or a record is escaped (``html.escape``). The report's own Markdown
sentences (``analysis.report``, the same lines as report.md) are rendered by markdown-it-py with raw HTML
off (an arm named ``<script>`` comes out as text) and its link, image and autolink rules off (no ``href``
or ``src`` comes out of an artifact's text).

Order: the explain verdicts (when explain records are given), the answer, the table, the figures, the
conventions that differ, the localize partings (when localize records are given), provenance.
"""

from __future__ import annotations

import base64
import functools
import html
import math
from collections.abc import Sequence

from markdown_it import MarkdownIt

from paritybench.analysis import localize_plot
from paritybench.analysis.conventions_table import MISSING, _canon, declaration_mismatches, differing, value
from paritybench.analysis.gap_conventions import _short
from paritybench.artifact import reference_arm

# only data: images and the inline <style>: the page can fetch nothing, whatever its text says
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; max-width: 72rem; margin: 1.5rem auto; padding: 0 1rem;
       color: #1b1b1b; }
h1 { font-size: 1.6rem; } h2 { font-size: 1.3rem; border-bottom: 1px solid #ccc; margin-top: 2rem; }
h3 { font-size: 1.05rem; }
code { font: 0.9em ui-monospace, monospace; background: #f2f2f2; padding: 0 0.2em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
th { background: #f5f5f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.differs { background: #fff1d6; }
.verdict { font-size: 1.1rem; font-weight: 600; padding: 0.5rem 0.8rem; background: #eef5ff;
           border-left: 4px solid #2a6fdb; }
.pair { margin-bottom: 1.5rem; }
tr.closes td { background: #e9f7ec; }
tr.refused td { color: #666; }
td.why { min-width: 12rem; } .same { color: #888; }
figure { margin: 1rem 0; } figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-style: italic; color: #444; }
dl.prov { display: grid; grid-template-columns: max-content 1fr; gap: 0.15rem 1rem; }
dl.prov dt { font-weight: 600; } dl.prov dd { margin: 0; overflow-wrap: anywhere; }
"""


def _e(x: object) -> str:
    """Text from an artifact or a record, safe in an element or a quoted attribute."""
    return html.escape(str(x), quote=True)


@functools.cache
def _parser() -> MarkdownIt:
    """CommonMark with raw HTML off (escaped as text), tables on, links, images and autolinks off."""
    return MarkdownIt("commonmark", {"html": False}).enable("table").disable(["link", "image", "autolink"])


def _markdown(lines: Sequence[str]) -> str:
    """The report's Markdown lines as HTML."""
    return str(_parser().render("\n".join(lines)))


def _ratio(x: object) -> str:
    """A ratio to the noise floor: null is infinite (exactly one side non-finite), as localize writes it."""
    if x is None:
        return "∞"
    if isinstance(x, str):
        return _e(x)
    v = float(x)  # type: ignore[arg-type]
    return "∞" if math.isinf(v) else f"{v:.3g}"


def _img(png: bytes, alt: str) -> str:
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}" alt="{_e(alt)}">'


def _figure(png: bytes, caption: str) -> str:
    return f"<figure>{_img(png, caption)}<figcaption>{_e(caption)}</figcaption></figure>"


def _table(head: Sequence[str], rows: Sequence[str]) -> str:
    """A table: ``head`` is escaped here, ``rows`` are finished ``<tr>`` elements."""
    th = "".join(f"<th>{_e(h)}</th>" for h in head)
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


# ---------------------------------------------------------------- the explain verdicts


def _parted(p: dict | None) -> str:
    if p is None:
        return "<p>The pair does not part: localize finds no step where it crosses the factor.</p>"
    detail = f" ({_e(p['detail'])})" if p.get("detail") else ""
    return (
        f"<p>First parting: step {_e(p['step'])}, {_e(p['phase'])}, <code>{_e(p['tensor'])}</code>: "
        f"{_ratio(p['ratio'])}x the noise floor{detail}.</p>"
    )


def _switch_row(rank: int, s: dict) -> str:
    rows = "<br>".join(  # a row both arms share is greyed: the switch read it, it does not part them
        f"<span{'' if len(set(vals)) > 1 else ' class="same"'}>{_e(row)}: "
        f"{' vs '.join(_e('-' if v is None else _short(v)) for v in vals)}</span>"
        for row, vals in s["rows"].items()
    )
    if s["refused"] is not None:
        cls, closes, after = "refused", f"refused: {_e(s['refused'])}", "-"
    else:
        cls, closes, after = (
            ("closes" if s["closes"] else ""),
            ("yes" if s["closes"] else "no"),
            _ratio(s["ratio_after"]),
        )
    return (
        f'<tr class="{cls}"><td class="num">{rank}</td><td>{_e(s["name"])}</td><td>{_e(s["family"])}</td>'
        f"<td>{'-' if s['applied_to'] is None else f'<code>{_e(s["applied_to"])}</code>'}</td><td>{rows or '-'}</td>"
        f'<td class="num">{_ratio(s["ratio_before"])}</td><td class="num">{after}</td><td class="why">{closes}</td>'
        f"<td>{_e(s['demonstrated_by'] or '-')}</td></tr>"
    )


def _verdicts(explains: Sequence[dict]) -> str:
    out = ['<section id="verdict"><h2>The verdict</h2>']
    for rec in explains:
        out.append(
            f"<p><code>paritybench explain</code> on workload <code>{_e(rec['workload'])}</code>: each switch "
            f"changes one convention of the diverging arm to the other arm's and runs the parted steps again; "
            f"it closes the gap when the pair stays under {_e(f'{rec["factor"]:g}')}x the noise floor.</p>"
        )
        if not rec["pairs"]:
            out.append("<p>No pair in this record: explain had none to explain.</p>")
        for pair in rec["pairs"]:
            out.append(f'<article class="pair"><h3><code>{_e(pair["a"])}</code> vs <code>{_e(pair["b"])}</code></h3>')
            out.append(f'<p class="verdict">{_e(pair["verdict"])}</p>')
            out.append(_parted(pair["parted"]))
            if pair["switches"]:
                head = (
                    "rank",
                    "switch",
                    "family",
                    "applied to",
                    "conventions (a vs b)",
                    "ratio before",
                    "ratio after",
                    "closes",
                    "demonstrated by",
                )
                out.append(_table(head, [_switch_row(i, s) for i, s in enumerate(pair["switches"], start=1)]))
            c = pair["combination"]
            if c is not None:
                names = " + ".join(f"<code>{_e(n)}</code>" for n in c["names"])
                out.append(
                    f"<p>Switches combined: {names}: {_ratio(c['ratio_after'])}x the noise floor after, "
                    f"{'closes' if c['closes'] else 'does not close'} the gap.</p>"
                )
            out.append("</article>")
    out.append("</section>")
    return "\n".join(out)


# ---------------------------------------------------------------- the conventions that differ


def _conventions(artifacts: Sequence[dict]) -> str:
    out = ['<section id="conventions"><h2>The conventions that differ</h2>']
    runs = [a for a in artifacts if a.get("kind", "run") == "run"]
    if not runs:
        out.append("<p>No run artifact was given: conventions are recorded by <code>run</code>.</p>")
    for a in runs:
        table = (a.get("conventions") or {}).get("arms") or {}
        src = f"<code>{_e(a['_path'])}</code>: " if len(runs) > 1 else ""

        def said(text: str, src: str = src) -> str:
            return f"<p>{src}{text if src else text[0].upper() + text[1:]}</p>"

        if not table:
            out.append(
                said(
                    "this artifact records no conventions (it was written before <code>run</code> recorded "
                    "them): run it again to see which settings part each arm."
                )
            )
            continue
        ref = reference_arm(a)
        arms = list(table)
        rows = differing(table)
        if not rows:
            out.append(said("every arm has the same conventions."))
            continue
        out.append(
            said(
                "each row where the arms' settings differ, as <code>run</code> read them before training "
                f"(cells that differ from <code>{_e(ref)}</code>'s are marked)."
            )
        )
        body = []
        # a layer row (read from Keras arms only, matched by the layer's position) is marked only between arms
        # that read layers: not against a reference that reads none, nor in the column of an arm that reads none
        reads_layers = {arm for arm, r in table.items() if any(k.startswith("layer ") for k in r)}
        for row in rows:
            refv = value(table, ref, row) if ref in table else MISSING
            cells = []
            for arm in arms:
                v = value(table, arm, row)
                compared = not row.startswith("layer ") or {arm, ref} <= reads_layers
                cls = (
                    ' class="differs"'
                    if compared and arm != ref and ref in table and _canon(row, v) != _canon(row, refv)
                    else ""
                )
                cells.append(f"<td{cls}>{_e(_short(v))}</td>")
            body.append(f"<tr><th>{_e(row)}</th>{''.join(cells)}</tr>")
        out.append(_table(["row", *arms], body))
        bad = declaration_mismatches(table)
        if bad:
            out.append("<p>Declared rows the code contradicts:</p><ul>")
            out += [f"<li>{_e(b)}</li>" for b in bad]
            out.append("</ul>")
    out.append("</section>")
    return "\n".join(out)


# ---------------------------------------------------------------- the localize partings


def _partings(localizes: Sequence[dict]) -> str:
    out = ['<section id="localize"><h2>Where the arms part (localize)</h2>']
    for rec in localizes:
        wl = rec.get("workload")
        name = wl.get("name") if isinstance(wl, dict) else wl
        out.append(
            f"<p><code>paritybench localize</code> on workload <code>{_e(name)}</code>, seed {_e(rec.get('seed'))}, "
            f"window {_e(rec.get('window'))}, {_e(rec.get('steps'))} steps teacher-forced: the first (step, phase, "
            f"tensor) where a pair's difference exceeds {_e(f'{float(rec.get("factor") or 0):g}')}x the float32 "
            "noise floor at the same weights.</p>"
        )
        body = []
        for p in rec["pairs"]:
            f = p.get("first")
            pair = f"<code>{_e(p['a'])}</code> vs <code>{_e(p['b'])}</code>"
            if f is None:
                mx = p.get("max_ratio")
                body.append(
                    f"<tr><td>{pair}</td><td>never part</td><td class='num'>-</td>"
                    f"<td>largest ratio {_ratio(mx)}</td></tr>"
                )
                continue
            g = p.get("growth") or {}
            note = f"; then chaotic growth from step {_e(g['from_step'])}" if g.get("chaotic") else ""
            body.append(
                f"<tr><td>{pair}</td><td>step {_e(f['step'])}, {_e(f['phase'])}, <code>{_e(f['tensor'])}</code></td>"
                f"<td class='num'>{_ratio(f.get('ratio'))}</td><td>{_e(f.get('detail') or '')}{note}</td></tr>"
            )
        out.append(_table(["pair", "first parting", "ratio to the noise floor", "detail"], body))
        for line in rec.get("skipped") or []:
            out.append(f"<p>Skipped: {_e(line)}</p>")
        png, lay = localize_plot.render(rec)
        out.append(
            _figure(png, f"localize {name}: each pair's ratio to the noise floor per step, {len(lay.panels)} panels")
        )
    out.append("</section>")
    return "\n".join(out)


# ---------------------------------------------------------------- provenance


def _kv(d: dict) -> str:
    return "; ".join(f"{_e(k)}={_e(v)}" for k, v in d.items() if not isinstance(v, dict | list))


def _provenance(artifacts: Sequence[dict], records: Sequence[dict]) -> str:
    out = ['<section id="provenance"><h2>Provenance</h2>']
    for a in artifacts:
        env = a.get("environment") or {}
        cpu = env.get("cpu") or {}
        pk = ", ".join(f"{_e(k)} {_e(v)}" for k, v in (env.get("packages") or {}).items() if v)
        flags = _kv(env.get("numerics_env") or {})
        took = "<br>".join(
            f"<code>{_e(k)}</code>: {_kv(v.get('numerics', v))}"
            for k, v in (env.get("frameworks") or {}).items()
            if isinstance(v, dict)
        )
        warn = "; ".join(_e(w) for w in env.get("numerics_env_warnings") or [])
        items = [
            ("file", f"<code>{_e(a.get('_path', '-'))}</code>"),
            ("sha256", f"<code>{_e(a.get('_sha256', '-'))}</code>"),
            (
                "kind",
                f"{_e(a.get('kind', 'run'))}, schema {_e(a.get('schema_version'))}, created {_e(a.get('created_at'))}, "
                f"paritybench {_e(a.get('paritybench_version', '-'))}, config hash {_e(a.get('config_hash', '-'))}",
            ),
            ("versions", f"Python {_e(env.get('python', '-'))}; {pk}"),
            ("flags set", flags or "-"),
            ("flags in effect", took or "-"),
            ("flag warnings", warn or "none"),
            (
                "machine",
                f"{_e(cpu.get('model', '?'))} ({_e(cpu.get('machine', '?'))}, {_e(cpu.get('logical_cpus', '?'))} "
                f"logical CPUs), {_e(env.get('platform', env.get('os', '?')))}, "
                f"{'in a container' if (env.get('container') or {}).get('in_container') else 'not in a container'}",
            ),
        ]
        out.append(f'<h3>{_e(a.get("kind", "run"))} artifact</h3><dl class="prov">')
        out += [f"<dt>{k}</dt><dd>{v}</dd>" for k, v in items]
        out.append("</dl>")
    for r in records:
        out.append(f'<h3>{_e(r.get("kind"))} record</h3><dl class="prov">')
        out.append(f"<dt>file</dt><dd><code>{_e(r.get('_path', '-'))}</code></dd>")
        out.append(f"<dt>sha256</dt><dd><code>{_e(r.get('_sha256', '-'))}</code></dd>")
        out.append(f"<dt>format</dt><dd>{_e(r.get('format_version', '1.0 (unversioned)'))}</dd>")
        out.append("</dl>")
    out.append("</section>")
    return "\n".join(out)


# ---------------------------------------------------------------- the page


def render(
    *,
    header: Sequence[str],
    answer: Sequence[str],
    tables: Sequence[str],
    figures: Sequence[tuple[str, bytes]],
    artifacts: Sequence[dict],
    explains: Sequence[dict] = (),
    localizes: Sequence[dict] = (),
) -> str:
    """The whole page. ``header``, ``answer`` and ``tables`` are the report's Markdown lines (report.md's);
    ``figures`` are (caption, PNG bytes); ``explains`` and ``localizes`` are checked records."""
    names = sorted({a["workload"]["name"] for a in artifacts})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>paritybench report: {_e(', '.join(names))}</title>",
        f"<style>{STYLE}</style></head><body>",
        "<h1>paritybench report</h1>",
        _markdown(header),
    ]
    if explains:
        parts.append(_verdicts(explains))
    parts += [
        '<section id="answer"><h2>The answer</h2>',
        _markdown(answer),
        "</section>",
        '<section id="table"><h2>The table</h2>',
        _markdown(tables)
        if any(line.strip() for line in tables)
        else "<p>No table of gaps: it needs a run artifact whose reference arm ran and ended with an accuracy "
        "(a loss metric's gaps are in the answer).</p>",
        "</section>",
        '<section id="figures"><h2>Figures</h2>',
        *(_figure(png, caption) for caption, png in figures),
        "</section>" if figures else "<p>No figure: the artifacts record no per-step curves.</p></section>",
        _conventions(artifacts),
    ]
    if localizes:
        parts.append(_partings(localizes))
    parts += [_provenance(artifacts, [*explains, *localizes]), "</body></html>", ""]
    return "\n".join(parts)
