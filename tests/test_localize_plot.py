"""issue 12: the plot of each pair's ratio to the noise floor per (phase, tensor) over steps
(``paritybench localize --plot`` and ``paritybench report RECORD.json``)."""

from __future__ import annotations

import json
import struct

import pytest

from tests.conftest import run_cli


def _check(step, phase, tensor, ratio, nonfinite=False):
    return {"step": step, "phase": phase, "tensor": tensor, "ratio": ratio, "nonfinite": nonfinite}


def _record(extra_phase: bool = True, tensors: int = 3) -> dict:
    """A localize record as ``localize --out`` writes it: two pairs; the first has an ``evaluation`` phase
    (as a newer localize adds) and many update tensors; the second parts with an infinite ratio."""
    a_checks, b_checks = [], []
    for k in range(3):
        a_checks += [_check(k, "forward", "logits", 1.0 + k), _check(k, "loss", "value", 0.0)]
        a_checks += [_check(k, "update", f"layer_{i}/kernel", 10.0 ** (i % 5) * (k + 1)) for i in range(tensors)]
        if extra_phase:
            a_checks += [_check(k, "evaluation", "batchnorm/moving_mean", 5e3 if k else 2.0)]
        b_checks += [_check(k, "forward", "logits", 1.0), _check(k, "loss", "value", None if k == 0 else 0.0, k == 0)]
    return {
        "kind": "localize",
        "workload": {"name": "made-up"},
        "seed": 0,
        "window": 0,
        "factor": 100.0,
        "pairs": [
            {
                "a": "arm-a",
                "b": "reference-f64",
                "checks": a_checks,
                "first": {"step": 1, "phase": "evaluation", "tensor": "batchnorm/moving_mean", "ratio": 5e3},
            },
            {
                "a": "arm-b",
                "b": "reference-f64",
                "checks": b_checks,
                "growth": {"chaotic": True, "from_step": 1, "rate": 3.2, "distance": [0, 1, 3.2]},
                "first": {"step": 0, "phase": "loss", "tensor": "value", "ratio": None},
            },
        ],
    }


def _png_size(path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    assert data[-8:-4] == b"IEND", "PNG cut short"
    return struct.unpack(">II", data[16:24])


def test_layout_follows_the_record_phases_and_caps_tensors():
    from paritybench.analysis import localize_plot as lp

    lay = lp.layout(_record(tensors=12))
    # phases in the record's order, evaluation included though no list names it; a pair with fewer phases
    assert [[p.phase for p in row] for row in lay.rows] == [
        ["forward", "loss", "update", "evaluation"],
        ["forward", "loss"],
    ]
    upd = lay.rows[0][2]
    # the top TOP tensors by max ratio (i % 5 == 4 gives 1e4: layers 4 and 9 first), and the title says so
    assert len(upd.series) == lp.TOP and upd.total_tensors == 12
    assert {"layer_4/kernel", "layer_9/kernel"} <= set(upd.series)
    assert f"top {lp.TOP} of 12 tensors" in upd.title
    assert "top" not in lay.rows[0][0].title
    assert lay.rows[0][3].first["tensor"] == "batchnorm/moving_mean" and lay.rows[0][2].first is None
    # chaotic growth is said once, on the pair's first panel
    assert lay.rows[1][0].title.endswith("then chaotic growth from step 1, x3.2 per step")
    assert "chaotic" not in lay.rows[1][1].title and "chaotic" not in lay.rows[0][0].title


def test_plot_writes_a_png_with_one_panel_per_pair_and_phase(tmp_path):
    from paritybench.analysis import localize_plot as lp

    out = tmp_path / "loc.png"
    path, lay = lp.plot(_record(), out)
    assert path == out and len(lay.panels) == 6
    assert lay.drawn == 6  # a 2 x 4 grid less the two cells the second pair's two phases leave empty
    w, h = _png_size(out)
    assert w > 4 * 300 and h > 2 * 200  # four columns, two rows of panels
    with pytest.raises(Exception, match="already exists"):
        from paritybench.artifact.safeout import check_output_path

        check_output_path(out, what="--plot", suffix=".png")
    path, lay = lp.plot(_record(extra_phase=False), out, overwrite=True)  # replaced whole, fewer panels
    assert len(lay.panels) == lay.drawn == 5 and _png_size(out)[0] < w


def test_records_it_cannot_plot_are_refused_in_one_line():
    from paritybench.analysis import localize_plot as lp
    from paritybench.errors import ParityError

    rec = _record()
    del rec["pairs"][0]["checks"]  # what the --format json printout holds
    for bad, words in (
        (rec, "no per-step checks"),
        ({"kind": "run"}, "not a localize record"),
        ({**_record(), "pairs": []}, "no pairs"),
    ):
        with pytest.raises(ParityError, match=words) as e:
            lp.layout(bad)
        assert "\n" not in str(e.value)


def test_report_plots_a_record_and_refuses_bad_paths(tmp_path):
    rec = tmp_path / "loc.json"
    rec.write_text(json.dumps(_record()))
    proc = run_cli("report", str(rec), "--out", str(tmp_path / "rep"))
    assert proc.returncode == 0, proc.stderr
    assert "2 pairs, 6 panels" in proc.stdout
    _png_size(tmp_path / "rep" / "loc-localize.png")
    again = run_cli("report", str(rec), "--out", str(tmp_path / "rep"))  # no --overwrite
    assert again.returncode == 2 and "already exists" in again.stderr and "Traceback" not in again.stderr
    (tmp_path / "file").write_text("x")
    notdir = run_cli("report", str(rec), "--out", str(tmp_path / "file"))
    assert notdir.returncode == 2 and "not a directory" in notdir.stderr
    assert len(notdir.stderr.strip().splitlines()) == 1


def test_localize_plot_option(tmp_path):
    out, png = tmp_path / "loc.json", tmp_path / "loc.png"
    (tmp_path / "taken.png").write_text("x")
    for bad, words in (
        (tmp_path / "loc.txt", "ending in .png"),
        (tmp_path / "taken.png", "already exists"),
        (tmp_path, "ending in .png"),
    ):
        proc = run_cli("localize", "--arms", "jax-logits", "--steps", "1", "--plot", str(bad))
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr
        assert len(proc.stderr.strip().splitlines()) == 1
    proc = run_cli(
        "localize", "--arms", "jax-seed-stable,jax-logits", "--steps", "2", "--out", str(out), "--plot", str(png)
    )
    assert proc.returncode == 0, proc.stderr
    assert f"plot: {png}" in proc.stdout
    _png_size(png)
    from paritybench.analysis import localize_plot as lp

    lay = lp.layout(json.loads(out.read_text()))  # --arms A,B is one pair: its 4 phases, one row
    assert [len(r) for r in lay.rows] == [4]
