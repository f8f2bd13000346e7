"""NumPy: its BLAS's matmul at the model's shapes (float32 and float64), and one
step of ``reference-f64`` (the float64 ground truth), the slow anchor of the report.

NumPy calls return finished arrays, so no sync is needed.
"""

from __future__ import annotations

import benchutil
import numpy as np
import pytest

from paritybench.arms.reference import loss_and_grad
from paritybench.flops import matmul_flops, matmul_pair_flops, sgd_step_flops
from paritybench.model import PARAM_NAMES

MATMULS = {
    # label: (function, dtype, flops); "pair" = both big products of a step, as in the JAX suite.
    "numpy-f32-fwd": (lambda x, w, dh: x @ w, np.float32, matmul_flops(1000, 784, 1000)),
    "numpy-f32-bwd": (lambda x, w, dh: x.T @ dh, np.float32, matmul_flops(784, 1000, 1000)),
    "numpy-f32-pair": (lambda x, w, dh: (x @ w, x.T @ dh), np.float32, matmul_pair_flops()),
    "numpy-f64-pair": (lambda x, w, dh: (x @ w, x.T @ dh), np.float64, matmul_pair_flops()),
}


@pytest.mark.parametrize("label", list(MATMULS))
def test_matmul(timed, problem, label):
    fn, dtype, flops = MATMULS[label]
    x, w, dh = (np.ascontiguousarray(a, dtype=dtype) for a in (problem["x"], problem["init"]["dense_0/kernel"],
                                                                problem["dh"]))
    group = "matmul-f32" if dtype == np.float32 else "matmul-f64"
    timed(lambda: fn(x, w, dh), kind="matmul", group=group, label=label, measure="matmul", suite="numpy",
          flops=flops, steps_per_call=1, device=benchutil.cpu_label(), dtype=np.dtype(dtype).name)


def test_reference_step(timed, problem):
    """One SGD step of ``reference-f64``: its analytic gradient and the update, in float64."""
    w = {k: np.array(problem["init"][k], dtype=np.float64) for k in PARAM_NAMES}
    x, y, lr = np.asarray(problem["x"], np.float64), np.asarray(problem["y"], np.float64), problem["lr"]

    def step():
        _, grads, _ = loss_and_grad(w, x, y)
        return {k: w[k] - lr * grads[k] for k in PARAM_NAMES}

    timed(step, kind="reference", group="step", label="reference-f64-sgd", measure="step", suite="numpy",
          flops=sgd_step_flops().total, steps_per_call=1, blas="numpy-f64-pair", device=benchutil.cpu_label(),
          dtype="float64")
