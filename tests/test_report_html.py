"""report.html: one self-contained page (figures inline, no network), led by the explain verdict, every string
from an artifact escaped; the markdown report unchanged beside it; and the page as headless Chromium draws it.

The explain records here are fixtures written by hand to the shared contract (the explain record's format
1.0, ``paritybench.analysis.explain_record``), not measured: ``paritybench explain`` is built apart. The run
artifact and the localize record are the committed CPU baselines, so nothing here trains.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from paritybench.analysis import explain_record, report
from paritybench.errors import ParityError

from .conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "results/baselines/seed-bce-cpu.json"
LOCALIZE = ROOT / "results/baselines/localize/seed-bce-cpu.json"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
EVIL = "<script>alert('x')</script>"
REQUIRE_CHROMIUM = os.environ.get("PARITYBENCH_REQUIRE_CHROMIUM") == "1"  # set by .ci/run


def explain_fixture(workload: str = "seed-bce") -> dict:
    """An explain record of two seed-bce pairs, written by hand to the contract (not measured): one pair whose
    gap a switch closes (a second switch refused, a third that does not close), one that does not part."""
    clip = "sigmoid probabilities clipped to [1e-7, 1-1e-7]"
    return {
        "format_version": "1.0",
        "kind": "explain",
        "workload": workload,
        "factor": 100.0,
        "pairs": [
            {
                "a": "jax-keras-clip",
                "b": "reference-f64",
                "parted": {"step": 0, "phase": "loss", "tensor": "d loss/d logit", "ratio": 1.15e6},
                "verdict": "loss from logits closes the gap: 1.1e6x -> 1.3x the noise floor (demonstrated by seed-bce)",
                "switches": [
                    {
                        "name": "loss from logits",
                        "family": "loss",
                        "demonstrated_by": "seed-bce",
                        "applied_to": "jax-keras-clip",
                        "rows": {"declared: loss path": [clip, "from logits"]},
                        "ratio_before": 1.15e6,
                        "ratio_after": 1.3,
                        "closes": True,
                        "refused": None,
                    },
                    {
                        "name": "matmul precision",
                        "family": "numerics",
                        "demonstrated_by": "tf32-matmul",
                        "applied_to": "jax-keras-clip",
                        "rows": {"matmul precision": ["full float32", "float64"], "optimizer": ["SGD", "SGD"]},
                        "ratio_before": 1.15e6,
                        "ratio_after": 1.14e6,
                        "closes": False,
                        "refused": None,
                    },
                    {
                        "name": "adam epsilon placement",
                        "family": "optimizer",
                        "demonstrated_by": "adam-epsilon",
                        "applied_to": None,  # a refused switch changed no arm
                        "rows": {},
                        "ratio_before": 1.15e6,
                        "ratio_after": None,
                        "closes": False,
                        "refused": "the arm's optimizer is SGD: it has no epsilon to move",
                    },
                ],
                "combination": {"names": ["loss from logits", "matmul precision"], "ratio_after": 1.2, "closes": True},
            },
            {
                "a": "jax-logits",
                "b": "reference-f64",
                "parted": None,
                "verdict": "does not part: nothing to explain",
                "switches": [],
                "combination": None,
            },
        ],
    }


# ---------------------------------------------------------------- parsing the page


class Page(HTMLParser):
    """Every tag with its attributes, the text of every element by id, and the text of ``.verdict`` elements."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.ids: list[str] = []
        self.text: list[str] = []
        self.verdicts: list[str] = []
        self._in_verdict = 0
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if a.get("id"):
            self.ids.append(a["id"])
        if "verdict" in (a.get("class") or "").split():
            self._in_verdict += 1
            self.verdicts.append("")

    def handle_endtag(self, tag):
        if tag == "p" and self._in_verdict:
            self._in_verdict -= 1

    def handle_data(self, data):
        self.text.append(data)
        if self._in_verdict:
            self.verdicts[-1] += data


URL_ATTRS = {"src", "href", "srcset", "action", "formaction", "data", "poster", "background", "xlink:href", "ping"}


def network_references(text: str) -> list[str]:
    """Everything in the page that could make a browser fetch: a URL attribute other than an img's data: PNG
    (no http://, https:// or // src or href of any kind), an element that loads a resource, a CSS url() or
    @import in the styles."""
    page = Page(text)
    found = [
        f"<{tag} {k}={v!r}>"
        for tag, attrs in page.tags
        for k, v in attrs.items()
        if k in URL_ATTRS and not (tag == "img" and k == "src" and (v or "").startswith("data:image/png;base64,"))
    ]
    found += [f"<{tag}>" for tag, _ in page.tags if tag in {"script", "link", "iframe", "object", "embed", "base"}]
    for style in re.findall(r"<style>(.*?)</style>", text, flags=re.S):
        found += re.findall(r"url\(|@import", style)
    return found


def localize_subset(*arms: str) -> dict:
    """The committed localize record cut to the pairs of ``arms`` (its plot of all ten pairs takes 18 s to draw
    on the shared 2-core machine; the command's test draws it whole)."""
    loc = json.loads(LOCALIZE.read_text())
    loc["pairs"] = [p for p in loc["pairs"] if p["a"] in arms]
    assert [p["a"] for p in loc["pairs"]] == list(arms)
    loc["_path"] = str(LOCALIZE)
    return loc


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    """report.html of the seed-bce CPU baseline with an explain record and the committed localize record's
    pairs of a non-finite loss, a clip and the logits (which never part)."""
    out = tmp_path_factory.mktemp("html")
    loc = localize_subset("jax-naive", "jax-keras-clip", "jax-logits")
    md = report.write_report(report.load([str(RUN)]), out, explains=[explain_fixture()], localizes=[loc])
    return out, md.read_text(), (out / "report.html").read_text()


def test_page_leads_with_the_verdict_and_keeps_the_issue_order(page):
    _, _, text = page
    ids = Page(text).ids
    order = ["verdict", "answer", "table", "figures", "conventions", "localize", "provenance"]
    assert [i for i in ids if i in order] == order


def test_verdict_shows_each_pair_and_its_ranked_switches(page):
    _, _, text = page
    p = Page(text)
    assert p.verdicts == [
        "loss from logits closes the gap: 1.1e6x -> 1.3x the noise floor (demonstrated by seed-bce)",
        "does not part: nothing to explain",
    ]
    verdict = text[text.index('id="verdict"') : text.index('id="answer"')]
    rows = re.findall(r"<tr class=\"(closes|refused|)\"><td class=\"num\">(\d)</td><td>([^<]+)</td>", verdict)
    assert rows == [
        ("closes", "1", "loss from logits"),
        ("", "2", "matmul precision"),
        ("refused", "3", "adam epsilon placement"),
    ]
    assert "refused: the arm&#x27;s optimizer is SGD: it has no epsilon to move" in verdict
    assert "declared: loss path: sigmoid probabilities clipped to [1e-7, 1-1e-7] vs from logits" in verdict
    assert '<span class="same">optimizer: SGD vs SGD</span>' in verdict  # read by the switch, parts nothing
    assert "First parting: step 0, loss, <code>d loss/d logit</code>: 1.15e+06x the noise floor." in verdict
    assert "1.2x the noise floor after, closes the gap" in verdict  # the combination
    assert "The pair does not part" in verdict


def test_answer_table_and_conventions_come_from_the_artifact(page):
    _, md, text = page
    answer = text[text.index('id="answer"') : text.index('id="table"')]
    assert "<strong>The gap</strong>" in answer and "<code>jax-keras-clip</code> 0.684" in answer
    table = text[text.index('id="table"') : text.index('id="figures"')]
    # the gap table of report.md, as an HTML table: one row per arm other than the reference
    assert table.count("<tr>") == 1 + len([line for line in md.splitlines() if line.startswith("| `")])
    assert "<td><code>jax-keras-clip</code></td>\n<td>0.684</td>\n<td>-0.225</td>" in table
    conv = text[text.index('id="conventions"') : text.index('id="localize"')]
    for row in ("loss", "loss input", "forward pass", "oneDNN", "declared: loss path"):
        assert f"<th>{row}</th>" in conv
    # torch.optim.SGD and SGD are one optimizer spelt two ways (conventions compares them so): not a difference
    assert "torch.optim.SGD" in RUN.read_text() and "<th>optimizer</th>" not in conv
    assert '<td class="differs">keras.losses.binary_crossentropy</td>' in conv


def test_every_figure_is_an_inline_png_and_nothing_refers_to_the_network(page):
    out, md, text = page
    assert network_references(text) == []
    srcs = [a["src"] for tag, a in Page(text).tags if tag == "img"]
    on_disk = re.findall(r"^!\[[^]]*\]\(([^)]+)\)$", md, flags=re.M)
    assert len(srcs) == len(on_disk) + 1 == 4  # report.md's three figures and the localize plot
    for i, src in enumerate(srcs):
        png = base64.b64decode(src.removeprefix("data:image/png;base64,"), validate=True)
        assert png.startswith(PNG_MAGIC)
        if i < len(on_disk):
            assert png == (out / on_disk[i]).read_bytes()  # the very PNG report.md links to
    assert '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; img-src data:;' in text


def test_partings_and_provenance(page):
    _, _, text = page
    loc = text[text.index('id="localize"') : text.index('id="provenance"')]
    assert (
        "<code>jax-keras-clip</code> vs <code>reference-f64</code></td><td>step 0, loss, <code>d loss/d logit</code>"
        in loc
    )
    assert "never part" in loc  # jax-logits vs reference-f64
    prov = text[text.index('id="provenance"') :]
    art = json.loads(RUN.read_text())
    assert hashlib.sha256(RUN.read_bytes()).hexdigest() in prov
    assert f"jax {art['environment']['packages']['jax']}" in prov
    assert "JAX_DEFAULT_MATMUL_PRECISION=highest" in prov  # a flag set; and what each framework read back:
    assert "<code>keras-tensorflow</code>: op_determinism=True" in prov
    assert art["environment"]["cpu"]["model"] in prov


def test_the_markdown_report_is_unchanged(page, tmp_path, monkeypatch):
    _, md, _ = page
    plain = report.write_report(report.load([str(RUN)]), tmp_path / "plain")
    assert md == plain.read_text()  # the records go to report.html only
    # and the committed report of the CPU baselines comes out byte for byte as it was written
    monkeypatch.chdir(ROOT)
    names = ["seed-cpu.json", "sweep-cpu.json", "sweep-cpu-normalized.json", "sensitivity-cpu.json"]
    arts = report.load([f"results/baselines/{n}" for n in names])
    assert (
        report.build_report(arts, tmp_path / "committed").markdown() == (ROOT / "results/report/report.md").read_text()
    )


def test_strings_from_artifacts_and_records_are_text(tmp_path):
    raw = RUN.read_text().replace('"jax-naive"', json.dumps(EVIL))
    art = json.loads(raw)
    art["workload"]["question"] = "<img src=x onerror=alert(1)> [a](https://example.org) <https://example.org>"
    (tmp_path / "evil.json").write_text(json.dumps(art))
    rec = explain_fixture()
    rec["pairs"][0]["a"] = EVIL
    rec["pairs"][0]["verdict"] = f"{EVIL} closes the gap"
    rec["pairs"][0]["switches"][0]["rows"] = {EVIL: [EVIL, '"><img src=//evil>']}
    loc = localize_subset("jax-naive")
    loc["pairs"][0]["a"] = EVIL
    report.write_report(report.load([str(tmp_path / "evil.json")]), tmp_path / "r", explains=[rec], localizes=[loc])
    text = (tmp_path / "r" / "report.html").read_text()
    assert "<script" not in text.lower()
    assert network_references(text) == []
    p = Page(text)
    assert not [k for _, attrs in p.tags for k in attrs if k.startswith("on")]  # no event handler came through
    shown = "".join(p.text)
    assert shown.count(EVIL) >= 5  # the arm in the answer, the tables, the verdict and the localize table
    assert p.verdicts[0] == f"{EVIL} closes the gap"
    assert "[a](https://example.org)" in shown  # a Markdown link in an artifact stays text


# ---------------------------------------------------------------- the explain record


def test_explain_record_is_read_to_the_contract(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps(explain_fixture()))
    assert explain_record.is_explain_record(good)
    assert explain_record.load(good)["pairs"][0]["switches"][0]["closes"] is True

    def refused(rec, *needles):
        p = tmp_path / "bad.json"
        p.write_text(json.dumps(rec))
        with pytest.raises(ParityError) as e:
            explain_record.load(p)
        msg = str(e.value)
        assert "\n" not in msg and str(p) in msg and e.value.exit_code == 2, msg
        for n in needles:
            assert n in msg, msg

    rec = explain_fixture()
    rec["format_version"] = "2.0"
    refused(rec, "major 2", "reads major 1")
    rec = explain_fixture()
    del rec["format_version"]
    refused(rec, "without format_version")
    rec = explain_fixture()
    rec["pairs"][0]["switches"][0]["confidence"] = 0.9  # a key the contract does not name, in 1.0
    refused(rec, "pairs/0/switches/0", "'confidence' was unexpected")
    rec["format_version"] = "1.1"  # a later minor may add keys: this reader skips them
    good.write_text(json.dumps(rec))
    assert explain_record.load(good)["format_version"] == "1.1"
    rec = explain_fixture()
    del rec["pairs"][1]["verdict"]
    refused(rec, "pairs/1", "'verdict' is a required property")
    rec = explain_fixture()
    rec["pairs"][0]["switches"][1]["family"] = "vibes"
    refused(rec, "pairs/0/switches/1/family")
    rec = copy.deepcopy(explain_fixture())
    rec["pairs"][0]["parted"]["step"] = "zero"
    refused(rec, "pairs/0/parted")


# ---------------------------------------------------------------- the command, and the page in a browser


@pytest.fixture(scope="module")
def cli_page(tmp_path_factory):
    """``paritybench report RUN EXPLAIN LOCALIZE --out DIR`` in a fresh process."""
    tmp = tmp_path_factory.mktemp("cli")
    rec = tmp / "explain.json"
    rec.write_text(json.dumps(explain_fixture()))
    proc = run_cli("report", str(RUN), str(rec), str(LOCALIZE), "--out", str(tmp / "r"))
    assert proc.returncode == 0, proc.stderr[-2000:]
    return tmp, proc


def test_report_command_writes_the_page_and_refuses_records_it_cannot_place(cli_page):
    tmp, proc = cli_page
    assert f"page: {tmp / 'r' / 'report.html'}" in proc.stdout
    assert sorted(p.name for p in (tmp / "r").iterdir()) == [
        "agreement-raw.png",
        "curves-raw.png",
        "report.html",
        "report.md",
        "saturation-raw.png",
    ]
    other = tmp / "other.json"
    other.write_text(json.dumps(explain_fixture("adam-epsilon")))
    bad = run_cli("report", str(RUN), str(other), str(tmp / "explain.json"), "--out", str(tmp / "no"))
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
    assert "explain record of workload adam-epsilon, the artifacts are of seed-bce" in bad.stderr
    assert not (tmp / "no").exists()  # refused before anything was written
    future = tmp / "future.json"
    future.write_text(json.dumps({**explain_fixture(), "format_version": "2.0"}))
    for args, needle in (
        ((str(RUN), str(future)), "explain record format_version 2.0 has major 2, this paritybench reads major 1"),
        ((str(tmp / "explain.json"),), "an explain record is reported beside its workload's run artifact"),
    ):
        bad = run_cli("report", *args, "--out", str(tmp / "no"))
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert needle in bad.stderr, bad.stderr
        assert not (tmp / "no").exists()


def _chromium():
    """The system's Chromium and playwright, or a skip (a failure under PARITYBENCH_REQUIRE_CHROMIUM=1)."""
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        exe, sync_playwright = None, None  # type: ignore[assignment]
    if exe is None or sync_playwright is None:
        reason = "headless Chromium not found (apt-get install chromium; the playwright dev dependency)"
        if REQUIRE_CHROMIUM:
            pytest.fail(f"PARITYBENCH_REQUIRE_CHROMIUM=1 but {reason}", pytrace=False)
        pytest.skip(f"browser test skipped: {reason} (set PARITYBENCH_REQUIRE_CHROMIUM=1 to fail instead)")
    return exe, sync_playwright


def test_headless_chromium_draws_the_verdict_the_table_and_every_figure(cli_page):
    exe, sync_playwright = _chromium()
    tmp, _ = cli_page
    url = (tmp / "r" / "report.html").as_uri()
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=exe)  # Debian's Chromium: playwright's download is not used
        try:
            tab = browser.new_page(viewport={"width": 1200, "height": 900})
            tab.on("request", lambda r: requests.append(r.url))
            tab.goto(url, wait_until="load", timeout=20_000)
            imgs = tab.eval_on_selector_all(
                "img", "els => els.map(e => [e.complete, e.naturalWidth, e.getBoundingClientRect().width])"
            )
            verdicts = tab.locator(".verdict")
            shown = [verdicts.nth(i).inner_text() for i in range(verdicts.count())]
            visible = [verdicts.nth(i).is_visible() for i in range(verdicts.count())]
            table = tab.locator("#table table")
            table_visible, table_text = table.is_visible(), table.inner_text()
            box = table.bounding_box()
        finally:
            browser.close()
    assert len(imgs) == 4 and all(done and natural > 0 and width > 0 for done, natural, width in imgs), imgs
    assert shown == [p["verdict"] for p in explain_fixture()["pairs"]] and all(visible)
    assert table_visible and box is not None and box["width"] > 0 and box["height"] > 0
    assert "jax-keras-clip" in table_text and "-0.225" in table_text
    assert [u for u in requests if not u.startswith(("file:", "data:"))] == []  # nothing from the network


def test_a_keras_layer_setting_that_differs_is_one_row_with_each_arms_value():
    """Two Keras arms name one layer ``leaky_re_lu_4`` and ``leaky_re_lu``: the page shows the slope once, each
    arm's value in its column; cells are marked against a Keras reference, never against one that reads no
    layers (a JAX float64 arm)."""
    from paritybench.analysis import report_html

    def keras(name: str, slope: float) -> dict:
        return {"optimizer": "SGD", f"layer {name} activation": "linear", f"layer {name} negative_slope": slope}

    arms = {"k1": keras("leaky_re_lu_4", 0.3), "k2": keras("leaky_re_lu", 0.01), "reference-f64": {"optimizer": "SGD"}}
    for reference, marked in (("reference-f64", 0), ("k1", 1)):
        a = {"_path": "a.json", "reference_arm": reference, "conventions": {"arms": arms}}
        page = report_html._conventions([a])
        rows = re.findall(r"<tr><th>(layer [^<]*)</th>(.*?)</tr>", page)
        assert [r for r, _ in rows] == ["layer leaky_re_lu_4 negative_slope"], page
        assert re.findall(r"<td[^>]*>([^<]*)</td>", rows[0][1]) == ["0.3", "0.01", "-"]
        assert rows[0][1].count('class="differs"') == marked
