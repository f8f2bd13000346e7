"""The leaky-relu-slope workload (see ``workload.py``)."""

from paritybench.workloads.leaky_relu_slope.workload import WORKLOAD

__all__ = ["WORKLOAD"]
