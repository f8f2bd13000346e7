"""The gpu-nondeterminism workload (see ``workload.py``)."""

from paritybench.workloads.gpu_nondeterminism.workload import WORKLOAD

__all__ = ["WORKLOAD"]
