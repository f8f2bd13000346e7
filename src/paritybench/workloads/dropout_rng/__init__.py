"""The dropout-rng workload (see ``workload.py``)."""

from paritybench.workloads.dropout_rng.workload import WORKLOAD

__all__ = ["WORKLOAD"]
