"""Writes ``data.npz`` beside this file: token tagging, from a fixed generator.

512 sequences of 8 tokens (``tokens``, int64, (512, 8), ids 0..19) and one tag per token (``tags``, int64,
(512, 8), ids 0..4): each token's tag is a fixed table's entry for it (a part of speech for a word), from NumPy's
``default_rng(2028)``. Run ``python examples/own_tagging/make_data.py`` to write it again; the same arrays come out
every time (``tests/test_examples.py`` holds the committed file to this generator).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SEQUENCES, LENGTH, VOCABULARY, TAGS, SEED = 512, 8, 20, 5, 2028


def make() -> tuple[np.ndarray, np.ndarray]:
    """The token ids and their tag ids, int64."""
    rng = np.random.default_rng(SEED)
    table = rng.integers(0, TAGS, VOCABULARY)
    tokens = rng.integers(0, VOCABULARY, (SEQUENCES, LENGTH))
    return tokens.astype(np.int64), table[tokens].astype(np.int64)


def write(path: Path = HERE / "data.npz") -> Path:
    x, y = make()
    np.savez(path, tokens=x, tags=y)
    return path


if __name__ == "__main__":
    print(write())
