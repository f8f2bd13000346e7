"""The same-padding workload (see ``workload.py``)."""

from .workload import WORKLOAD

__all__ = ["WORKLOAD"]
