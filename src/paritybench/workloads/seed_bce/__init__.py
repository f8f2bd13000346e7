"""The seed workload (see ``workload.py``); framework code in ``jax_model``, ``keras_model``, ``f64``."""

from paritybench.workloads.seed_bce.workload import WORKLOAD

__all__ = ["WORKLOAD"]
