"""MNIST rows as sequences: each 28x28 image is 28 steps of 28 features (its rows, top to bottom), the target its
digit (int64, 0-9).

The images are paritybench's bundled MNIST slice, read by the public ``paritybench.workloads.mnist_arrays`` (held
to its recorded sha256, as ``paritybench run`` reads it for the built-in workloads), scaled to [0, 1] here, where
the data is made: the first 512 images (the workload trains on its ``Data.n``).
"""

import numpy as np

from paritybench.workloads import mnist_arrays

IMAGES = 512


def load():
    images, digits = mnist_arrays()
    x = images[:IMAGES].astype(np.float32) / np.float32(255.0)  # (512, 28, 28): 28 rows of 28 pixels each
    return x, digits[:IMAGES].astype(np.int64)
