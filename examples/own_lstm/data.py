"""The user's own sequences: 256 series of 12 steps with 3 features each, and two targets per series.

A fixed NumPy generator (``default_rng(7)``): the features are standard normal; the targets need the whole
sequence (a running sum of the first feature) and its first step (the second feature at t=0), so a model must
remember across steps.
"""

import numpy as np


def load():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((256, 12, 3)).astype(np.float32)
    y = np.stack([0.3 * x[:, :, 0].sum(axis=1), x[:, 0, 1]], axis=1).astype(np.float32)
    return x, y
