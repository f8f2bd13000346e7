"""The label-shape workload (see ``workload.py``)."""

from paritybench.workloads.label_shape.workload import WORKLOAD

__all__ = ["WORKLOAD"]
