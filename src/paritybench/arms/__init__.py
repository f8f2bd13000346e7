"""Arms by kind: one module per kind, each with one ``Kind`` (``arms.kind``: train, evaluate at given weights,
read conventions, its numerics), registered once in ``arms.registry``. The runner, budget, shard, localize and
conventions reach every arm through its kind and never branch on kind names. This package imports no
framework at load time, and nothing beyond ``arms.base`` (the Keras workers start as ``python -m`` modules
inside it)."""

from __future__ import annotations

from paritybench.arms.base import ArmResult, TrainSpec

__all__ = ["ArmResult", "TrainSpec"]
