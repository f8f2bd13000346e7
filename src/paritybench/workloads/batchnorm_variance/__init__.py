"""The batchnorm-variance workload (see ``workload.py``)."""

from paritybench.workloads.batchnorm_variance.workload import WORKLOAD

__all__ = ["WORKLOAD"]
