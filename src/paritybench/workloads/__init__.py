"""Workloads: the unit of the benchmark (see ``base`` for the interface, ``registry`` for loading)."""

from paritybench.workloads.base import Arm, Data, Model, Training, Workload, resolve_ref
from paritybench.workloads.datasource import load as load_data
from paritybench.workloads.datasource import mnist_arrays
from paritybench.workloads.registry import DEFAULT, discover, load, names

__all__ = [
    "Arm",
    "Data",
    "Model",
    "Training",
    "Workload",
    "resolve_ref",
    "DEFAULT",
    "discover",
    "load",
    "load_data",
    "mnist_arrays",
    "names",
]
