"""Shared fixtures. The seed preset is trained once per test session."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args: str, cwd: Path | None = None, timeout: int = 900, env: dict | None = None):
    """Run ``python -m paritybench ARGS`` in a fresh process (flags are set at import)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "paritybench", *args],
        cwd=cwd or ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


@pytest.fixture(scope="session")
def seed_run(tmp_path_factory):
    """The seed preset (seed 0, window 0, every arm), run as a user would."""
    out = tmp_path_factory.mktemp("seed") / "seed.json"
    proc = run_cli("run", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    from paritybench.experiment.weights import load_weights_npz

    artifact = json.loads(out.read_text())
    weights = load_weights_npz(out.with_suffix(".weights.npz"))
    return {"path": out, "artifact": artifact, "weights": weights, "stdout": proc.stdout}


def by_arm(artifact: dict) -> dict[str, dict]:
    return {r["arm"]: r for r in artifact["runs"]}
