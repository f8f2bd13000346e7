"""Keras's default initial weights drawn with NumPy, so that no framework's generator is involved."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def glorot_uniform(params: Mapping[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Keras's Dense and BatchNormalization defaults from ``numpy.random.default_rng(seed)``, in ``params``'s
    order: kernels glorot_uniform, U(+-sqrt(6 / (fan_in + fan_out))) with fans from the (in, out) shape;
    ``*gamma`` ones; every other parameter (biases, beta) zeros. Only kernels draw, so the stream a kernel
    gets depends on the kernels declared before it and nothing else."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in params.items():
        if name.endswith("kernel"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        elif name.endswith("gamma"):
            out[name] = np.ones(shape, np.float32)
        else:
            out[name] = np.zeros(shape, np.float32)
    return out
