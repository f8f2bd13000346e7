"""NumPy: its BLAS's matmul at the model's shapes (float32 and float64), and one
step of ``reference-f64`` (the float64 ground truth), the slow anchor of the report.

NumPy calls return finished arrays, so no sync is needed.
"""

from __future__ import annotations

import benchutil
import numpy as np
import pytest

from paritybench.arms.f64 import Arbiter
from paritybench.timing.flops import matmul_flops

MATMULS = {
    # label: (function, dtype, which products); "pair" = both big products of a step, as in the JAX suite.
    "numpy-f32-fwd": (lambda x, w, dh: x @ w, np.float32, (0,)),
    "numpy-f32-bwd": (lambda x, w, dh: x.T @ dh, np.float32, (1,)),
    "numpy-f32-pair": (lambda x, w, dh: (x @ w, x.T @ dh), np.float32, (0, 1)),
    "numpy-f64-pair": (lambda x, w, dh: (x @ w, x.T @ dh), np.float64, (0, 1)),
}


@pytest.mark.parametrize("label", list(MATMULS))
def test_matmul(timed, problem, label):
    fn, dtype, which = MATMULS[label]
    if problem["kernel"] is None:
        pytest.skip("the workload's first parameter is no (in, out) kernel to time the products of")
    (n, d_in), d_out = problem["x"].shape, problem["dh"].shape[1]
    flops = sum((matmul_flops(n, d_in, d_out), matmul_flops(d_in, n, d_out))[i] for i in which)
    x, w, dh = (
        np.ascontiguousarray(a, dtype=dtype) for a in (problem["x"], problem["init"][problem["kernel"]], problem["dh"])
    )
    group = "matmul-f32" if dtype == np.float32 else "matmul-f64"
    timed(
        lambda: fn(x, w, dh),
        kind="matmul",
        group=group,
        label=label,
        measure="matmul",
        suite="numpy",
        flops=flops,
        steps_per_call=1,
        device=benchutil.cpu_label(),
        dtype=np.dtype(dtype).name,
    )


def test_reference_step(timed, problem):
    """One SGD step of the float64 arbiter: its gradient (hand-written, or JAX in float64) and the update."""
    workload = problem["workload"]
    arbiter = Arbiter(workload)
    w = {k: np.array(problem["init"][k], dtype=np.float64) for k in workload.model.params}
    x, y, lr = np.asarray(problem["x"], np.float64), np.asarray(problem["y"], np.float64), problem["lr"]

    def step():
        _, grads, _ = arbiter.loss_and_grad(w, x, y)
        return {k: w[k] - lr * grads[k] for k in w}

    flops = problem["step_flops"].total if problem["step_flops"] else None
    if flops is None:
        pytest.skip("no FLOP count for a float64 step of this architecture (XLA counts only the JAX suite's)")
    timed(
        step,
        kind="reference",
        group="step",
        label="reference-f64-sgd",
        measure="step",
        suite="numpy",
        flops=flops,
        steps_per_call=1,
        blas="numpy-f64-pair",
        device=benchutil.cpu_label(),
        dtype="float64",
        workload=workload.name,
    )
