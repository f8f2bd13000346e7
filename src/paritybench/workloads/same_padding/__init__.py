"""The same-padding workload (see ``workload.py``)."""

from paritybench.workloads.same_padding.workload import WORKLOAD

__all__ = ["WORKLOAD"]
