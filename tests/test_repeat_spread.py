"""run --repeat: how far apart the repeats' final weights are, beside whether they are bit-identical."""

from __future__ import annotations

import math

import numpy as np

from paritybench.experiment.weights import save_weights_npz
from paritybench.studies.repeat import add_spread, repeat_section


def _artifact(h: str) -> dict:
    return {
        "runs": [
            {"arm": "a", "seed": 0, "window_start": 0, "status": "ok", "final_weights_sha256": h},
            {"arm": "nan", "seed": 0, "window_start": 0, "status": "ok", "final_weights_sha256": "n"},
        ]
    }


def test_spread_is_the_largest_difference_over_repeats_and_parameters(tmp_path):
    w1 = {"k": np.array([1.0, 2.0], np.float32), "b": np.array([0.5], np.float32)}
    w2 = {"k": np.array([1.0, 2.25], np.float32), "b": np.array([0.5], np.float32)}
    w3 = {"k": np.array([1.0, 2.0], np.float32), "b": np.array([0.0], np.float32)}
    nan = {"k": np.array([np.nan, 1.0], np.float32), "b": np.array([0.0], np.float32)}
    files = []
    for i, (w, n) in enumerate([(w1, nan), (w2, nan), (w3, {**nan, "b": np.array([np.nan], np.float32)})]):
        f = tmp_path / f"r{i}.npz"
        save_weights_npz(f, {"a/s0/w0": w, "nan/s0/w0": n})
        files.append(f)
    section = repeat_section([_artifact("x"), _artifact("y"), _artifact("x")])
    add_spread(section, files)
    assert section["arms"]["a"]["identical"] is False
    assert section["arms"]["a"]["cases"][0]["max_abs_diff"] == 0.5  # |0.0 - 0.5| in b, repeat 3
    # NaN against NaN is equal (0), NaN against a number is inf
    assert math.isinf(section["arms"]["nan"]["cases"][0]["max_abs_diff"])


def test_no_spread_without_every_repeat_s_weights(tmp_path):
    section = repeat_section([_artifact("x"), _artifact("x")])
    add_spread(section, [None, tmp_path / "missing.npz"])
    assert "max_abs_diff" not in section["arms"]["a"]["cases"][0]
