"""The gelu-approximate workload (see ``workload.py``)."""

from paritybench.workloads.gelu_approximate.workload import WORKLOAD

__all__ = ["WORKLOAD"]
