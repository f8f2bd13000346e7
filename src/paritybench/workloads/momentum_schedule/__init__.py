"""The momentum-schedule workload (see ``workload.py``)."""

from paritybench.workloads.momentum_schedule.workload import WORKLOAD

__all__ = ["WORKLOAD"]
