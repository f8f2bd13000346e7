"""The l2-weight-decay workload (see ``workload.py``)."""

from .workload import WORKLOAD

__all__ = ["WORKLOAD"]
