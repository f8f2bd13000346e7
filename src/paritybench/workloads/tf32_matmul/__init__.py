"""The tf32-matmul workload (see ``workload.py``)."""

from paritybench.workloads.tf32_matmul.workload import WORKLOAD

__all__ = ["WORKLOAD"]
