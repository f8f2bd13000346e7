"""init-defaults in Keras 3: ``Sequential`` 784-1000-1 with a sigmoid output."""

from __future__ import annotations

from paritybench.workloads.init_defaults.workload import SIZES
from paritybench.workloads.kit import keras as kit


def build(keras):
    return kit.mlp(keras, SIZES, "relu", "sigmoid")
