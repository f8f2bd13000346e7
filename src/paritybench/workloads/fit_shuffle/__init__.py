"""The fit-shuffle workload (see ``workload.py``)."""

from paritybench.workloads.fit_shuffle.workload import WORKLOAD

__all__ = ["WORKLOAD"]
