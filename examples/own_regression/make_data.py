"""Writes ``data.npz`` beside this file: a tabular regression from a fixed generator.

512 samples of 8 standard-normal features (``features``, float32, (512, 8)) and one target each
(``targets``, float32, (512, 1)): ``sin(x @ a) + 0.5 tanh(x @ b) + 0.05 noise``, from NumPy's
``default_rng(2026)``. Run ``python examples/own_regression/make_data.py`` to write it again; the same
arrays come out every time (``tests/test_own_data.py`` holds the committed file to this generator).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLES, FEATURES, SEED = 512, 8, 2026


def make() -> tuple[np.ndarray, np.ndarray]:
    """The features and targets, float32."""
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((SAMPLES, FEATURES))
    a, b = rng.standard_normal(FEATURES) / np.sqrt(FEATURES), rng.standard_normal(FEATURES) / np.sqrt(FEATURES)
    y = np.sin(x @ a) + 0.5 * np.tanh(x @ b) + 0.05 * rng.standard_normal(SAMPLES)
    return x.astype(np.float32), y.reshape(SAMPLES, 1).astype(np.float32)


def write(path: Path = HERE / "data.npz") -> Path:
    x, y = make()
    np.savez(path, features=x, targets=y)
    return path


if __name__ == "__main__":
    print(write())
