"""The loss-reduction workload (see ``workload.py``)."""

from paritybench.workloads.loss_reduction.workload import WORKLOAD

__all__ = ["WORKLOAD"]
