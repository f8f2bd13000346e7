"""The report renders from committed artifacts and says what the data show."""

import copy
import json
import re
from pathlib import Path

import matplotlib.image
import pytest

from paritybench.analysis import report

from .conftest import run_cli

DATA = Path(__file__).parent / "data"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    proc = run_cli(
        "report",
        str(DATA / "run-seed0.json"),
        str(DATA / "sweep-small.json"),
        str(DATA / "sensitivity-small.json"),
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_every_plot_exists_and_is_a_valid_png(rendered):
    pngs = sorted(p.name for p in rendered.glob("*.png"))
    assert pngs == ["agreement-raw.png", "curves-raw.png", "saturation-raw.png", "sensitivity.png", "sweep.png"]
    md = (rendered / "report.md").read_text()
    for name in pngs:
        raw = (rendered / name).read_bytes()
        assert raw.startswith(PNG_MAGIC)
        img = matplotlib.image.imread(rendered / name)
        assert img.shape[0] > 100 and img.shape[1] > 100
        assert f"]({name})" in md


def test_opening_answer_names_the_cause_the_data_show(rendered):
    md = (rendered / "report.md").read_text()
    answer = md.split("## Figures")[0]
    assert "**The gap**" in answer and "`jax-seed-stable` 0.665" in answer
    assert "82.3% of the 1000 samples have |logit| > 16.6" in answer
    # the two sides apart: exactly 1 above +16.6; below -16.6 a tiny p, exactly 0 only past exp's overflow
    assert "above +16.6 float32's sigmoid is exactly 1; below -16.6 it is under 6e-8" in answer
    assert re.search(r"In `[a-z0-9-]+`'s float32, \d+\.\d% of the samples have a probability of exactly 0 or 1", answer)
    assert "exactly zero gradient to 83.8%" in answer
    assert "Mechanism reproduced:** `keras-tensorflow` and its JAX emulation `jax-logits`" in answer
    assert "chaotic: `jax-seed-stable` anywhere from 0.655 to 0.798" in answer
    assert "training steps" in answer


def test_no_gap_is_said_when_there_is_none():
    a = json.loads((DATA / "run-seed0.json").read_text())
    a = copy.deepcopy(a)
    ref = next(r for r in a["runs"] if r["arm"] == "reference-f64")
    for r in a["runs"]:
        if r["status"] == "ok":
            r["curves"]["correct"][-1] = ref["curves"]["correct"][-1]
            r["final_accuracy"] = ref["final_accuracy"]
    lines = report.answer_from_run(a)
    assert lines[0].startswith("**No gap**") and "0.909" in lines[0]
    assert not any("fall short" in x for x in lines)


def test_report_refuses_an_invalid_artifact(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"schema_version": "1.0"}')
    proc = run_cli("report", str(bad), "--out", str(tmp_path / "r"))
    assert proc.returncode == 2 and "is invalid" in proc.stderr
    assert not (tmp_path / "r").exists()
