"""The adam-epsilon workload (see ``workload.py``)."""

from paritybench.workloads.adam_epsilon.workload import WORKLOAD

__all__ = ["WORKLOAD"]
