"""The tf32-matmul workload (see ``workload.py``)."""

from .workload import WORKLOAD

__all__ = ["WORKLOAD"]
