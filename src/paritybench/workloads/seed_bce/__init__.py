"""The seed workload (see ``workload.py``); framework code in ``jax_model``, ``keras_model``, ``f64``."""

from .workload import WORKLOAD

__all__ = ["WORKLOAD"]
