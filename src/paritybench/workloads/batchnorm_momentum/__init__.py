"""The batchnorm-momentum workload (see ``workload.py``)."""

from paritybench.workloads.batchnorm_momentum.workload import WORKLOAD

__all__ = ["WORKLOAD"]
