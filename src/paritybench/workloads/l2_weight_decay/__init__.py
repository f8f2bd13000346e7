"""The l2-weight-decay workload (see ``workload.py``)."""

from paritybench.workloads.l2_weight_decay.workload import WORKLOAD

__all__ = ["WORKLOAD"]
