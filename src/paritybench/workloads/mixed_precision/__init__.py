"""The mixed-precision workload (see ``workload.py``)."""

from paritybench.workloads.mixed_precision.workload import WORKLOAD

__all__ = ["WORKLOAD"]
