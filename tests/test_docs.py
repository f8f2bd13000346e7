"""The README and docs/ are current with the committed artifacts, and every local link in them resolves.

Fast: reads files and JSON only (``tools/gen_docs.py`` imports no framework and trains nothing).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tools import gen_docs

ROOT = Path(__file__).resolve().parents[1]
DOCS = gen_docs.doc_files()
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    return {_slug(m.group(1)) for m in re.finditer(r"^#+ (.+)$", path.read_text(), re.M)}


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_blocks_are_current(path):
    """Running tools/gen_docs.py would change nothing: every figure between markers is its artifact's."""
    text = path.read_text()
    assert gen_docs.render(text, str(path)) == text, (
        f"{path.relative_to(ROOT)} is not current: run .venv/bin/python tools/gen_docs.py"
    )


def test_gen_docs_check_mode_agrees():
    assert gen_docs.main(["--check"]) == 0


def test_every_block_name_is_used_and_every_used_name_is_known():
    used = {m.group(2) for p in DOCS for m in gen_docs.BLOCK.finditer(p.read_text())}
    assert used, "no generated block found"
    plain = {u for u in used if ":" not in u}
    assert plain <= set(gen_docs.BLOCKS), plain - set(gen_docs.BLOCKS)
    assert set(gen_docs.BLOCKS) <= plain, f"defined but never used: {set(gen_docs.BLOCKS) - plain}"


def test_an_unknown_block_is_refused():
    with pytest.raises(SystemExit, match="unknown block 'no-such-table'"):
        gen_docs.render("<!-- generated: no-such-table -->\nx\n<!-- end -->\n", "t.md")


def test_a_stale_block_is_rewritten():
    stale = "<!-- generated: adam-eps -->\nsomething old\n<!-- end -->\n"
    new = gen_docs.render(stale, "t.md")
    assert "something old" not in new and "1.258 eps after 1000 steps" in new


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_local_link_resolves(path):
    text = path.read_text()
    broken = []
    for target in LINK.findall(text) + IMAGE.findall(text):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(target)
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(target)
    assert not broken, f"{path.relative_to(ROOT)}: links that do not resolve: {broken}"


def test_every_workload_folder_is_named_in_the_docs():
    folders = [p.parent.name for p in (ROOT / "src" / "paritybench" / "workloads").glob("*/workload.py")]
    assert len(folders) >= 10
    text = "\n".join(p.read_text() for p in DOCS)
    missing = [f for f in folders if f.replace("_", "-") not in text]
    assert not missing, missing


def test_the_readme_says_how_many_workloads_ship():
    n = len(list((ROOT / "src" / "paritybench" / "workloads").glob("*/workload.py")))
    words = dict(
        enumerate(
            "Eight Nine Ten Eleven Twelve Thirteen Fourteen Fifteen Sixteen Seventeen Eighteen Nineteen Twenty".split(),
            start=8,
        )
    )
    assert f"{words[n]} ship with paritybench" in (ROOT / "README.md").read_text()


def test_the_readme_is_short_and_links_every_page():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 250
    for page in (ROOT / "docs").glob("*.md"):
        assert f"(docs/{page.name})" in readme, f"README does not link docs/{page.name}"


@pytest.mark.parametrize("path", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_machine_paths(path):
    """The docs print paths relative to the checkout, never one machine's."""
    assert not re.search(r"/(work|home|root|tmp|Users)/\w", path.read_text())
