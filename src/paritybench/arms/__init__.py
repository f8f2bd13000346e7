"""Arms by kind: the trainer and the weight-swap evaluator for each kind of arm.

The runner reaches every arm through these and never branches on arm names. This
package imports no framework at load time (the Keras workers import ``arms.base``).
"""

from __future__ import annotations

from paritybench.arms.base import ArmResult, TrainSpec
from paritybench.arms.f64 import evaluate_correct as f64
from paritybench.arms.jax_trainer import evaluate_correct as jax32


def trainer(kind: str):
    """``train_many(workload, arm, inits, x, y, spec)`` for a main-process arm kind."""
    if kind == "jax":
        from paritybench.arms.jax_trainer import train_many
    elif kind == "f64":
        from paritybench.arms.f64 import train_many
    elif kind == "torch":
        from paritybench.arms.torch_trainer import train_many
    else:
        raise ValueError(f"arms of kind {kind!r} are trained in a worker process")
    return train_many


def main_evaluators():
    """The forward passes the harness's own process evaluates every final weight set with
    (the seed's weight swap): label -> ``evaluate_correct(workload, weights, x, y)``."""
    return {"jax": jax32, "reference-f64": f64}


__all__ = ["ArmResult", "TrainSpec", "trainer", "main_evaluators"]
