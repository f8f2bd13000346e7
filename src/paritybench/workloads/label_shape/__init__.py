"""The label-shape workload (see ``workload.py``)."""

from .workload import WORKLOAD

__all__ = ["WORKLOAD"]
