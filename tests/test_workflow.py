"""The CI workflow passes GitHub's workflow schema (as shipped, offline, by check-jsonschema)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from .conftest import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "parity.yml"


def check(path: Path) -> subprocess.CompletedProcess:
    # --builtin-schema: the schema vendored in the check-jsonschema package; no download.
    exe = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(exe), "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_workflow_passes_the_github_workflow_schema():
    proc = check(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_typo_in_the_workflow_fails_the_schema(tmp_path):
    bad = tmp_path / "parity.yml"
    text = WORKFLOW.read_text()
    assert "    runs-on: ubuntu-24.04" in text
    bad.write_text(text.replace("    runs-on: ubuntu-24.04", "    runs-onn: ubuntu-24.04", 1))
    proc = check(bad)
    assert proc.returncode == 1 and "runs-on" in proc.stdout


def test_the_scripts_the_workflow_calls_exist_and_are_executable():
    text = WORKFLOW.read_text()
    for script in ("scripts/ci_collect.sh", "scripts/ci_compare.sh"):
        assert script in text and os.access(ROOT / script, os.X_OK), script


def test_the_sweep_is_sharded_over_every_index_and_merged():
    from ruamel.yaml import YAML

    jobs = YAML(typ="safe").load(WORKFLOW.read_text())["jobs"]
    shards = jobs["sweep-shard"]["strategy"]["matrix"]["shard"]
    run = next(s["run"] for s in jobs["sweep-shard"]["steps"] if "--shard" in s.get("run", ""))
    import re

    count = int(re.search(r"--shard \$\{\{ matrix\.shard \}\}/(\d+) ", run).group(1))
    assert shards == list(range(count))
    assert jobs["sweep-merge"]["needs"] == ["sweep-shard"]
    assert any("paritybench merge shards/sweep-shard-*.json" in s.get("run", "") for s in jobs["sweep-merge"]["steps"])
