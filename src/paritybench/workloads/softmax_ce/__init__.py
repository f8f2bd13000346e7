"""The softmax-ce workload (see ``workload.py``)."""

from paritybench.workloads.softmax_ce.workload import WORKLOAD

__all__ = ["WORKLOAD"]
