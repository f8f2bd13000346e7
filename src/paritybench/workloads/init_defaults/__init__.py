"""The init-defaults workload (see ``workload.py``); the initialisers in ``initializers``."""

from paritybench.workloads.init_defaults.workload import WORKLOAD

__all__ = ["WORKLOAD"]
