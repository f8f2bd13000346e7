"""The pool-padding workload (see ``workload.py``)."""

from paritybench.workloads.pool_padding.workload import WORKLOAD

__all__ = ["WORKLOAD"]
