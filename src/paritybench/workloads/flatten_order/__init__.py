"""The flatten-order workload (see ``workload.py``)."""

from paritybench.workloads.flatten_order.workload import WORKLOAD

__all__ = ["WORKLOAD"]
