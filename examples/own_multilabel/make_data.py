"""Writes ``data.npz`` beside this file: a multi-label classification from a fixed generator.

512 samples of 10 standard-normal features (``features``, float32, (512, 10)) and 4 independent 0/1 labels each
(``labels``, float32, (512, 4)): label j is on where ``x @ a_j + 0.5 noise > 0``, from NumPy's
``default_rng(2027)``. Run ``python examples/own_multilabel/make_data.py`` to write it again; the same arrays come
out every time (``tests/test_examples.py`` holds the committed file to this generator).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SAMPLES, FEATURES, LABELS, SEED = 512, 10, 4, 2027


def make() -> tuple[np.ndarray, np.ndarray]:
    """The features and the labels, float32."""
    rng = np.random.default_rng(SEED)
    x = rng.standard_normal((SAMPLES, FEATURES))
    a = rng.standard_normal((FEATURES, LABELS)) / np.sqrt(FEATURES)
    y = (x @ a + 0.5 * rng.standard_normal((SAMPLES, LABELS)) > 0).astype(np.float32)
    return x.astype(np.float32), y


def write(path: Path = HERE / "data.npz") -> Path:
    x, y = make()
    np.savez(path, features=x, labels=y)
    return path


if __name__ == "__main__":
    print(write())
