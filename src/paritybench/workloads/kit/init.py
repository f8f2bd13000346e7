"""Keras's default initial weights drawn with NumPy, so that no framework's generator is involved."""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """Keras's ``compute_fans``: a Dense kernel's (in, out); a convolution's (kh, ..., in, out) multiplies both
    by its receptive field, kh * kw * ... ."""
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def glorot_uniform(params: Mapping[str, tuple[int, ...]], seed: int) -> dict[str, np.ndarray]:
    """Keras's Dense and BatchNormalization defaults from ``numpy.random.default_rng(seed)``, in ``params``'s
    order: kernels glorot_uniform, U(+-sqrt(6 / (fan_in + fan_out))) with ``fans`` of the kernel's shape;
    ``*gamma`` ones; every other parameter (biases, beta) zeros. Only kernels draw, so the stream a kernel
    gets depends on the kernels declared before it and nothing else."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in params.items():
        if name.endswith("kernel"):
            fan_in, fan_out = fans(shape)
            limit = np.sqrt(6.0 / (fan_in + fan_out))
            out[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        elif name.endswith("gamma"):
            out[name] = np.ones(shape, np.float32)
        else:
            out[name] = np.zeros(shape, np.float32)
    return out


def keras_init(params: Mapping[str, tuple[int, ...]]):
    """A folder's ``Model.init`` for the parameters ``params``: ``init(seed, threefry_partitionable=False)``,
    ``glorot_uniform(params, seed)``. JAX's PRNG is not involved, so ``threefry_partitionable`` changes
    nothing."""

    def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
        del threefry_partitionable
        return glorot_uniform(params, seed)

    return init
