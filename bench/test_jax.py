"""JAX: XLA's float32 matmul at the model's shapes (the machine's limit), the jitted
gradient step, one full SGD step, and the 10-step training as one ``lax.scan``.

Each program is compiled once, ahead of the timed rounds, with
``jit(...).lower(...).compile()``; lowering and compile seconds go to
``extra_info`` and the rounds call the compiled executable, so no compile can
fall into a step time. Every timed call ends in ``jax.block_until_ready``.
"""

from __future__ import annotations

import benchutil
import pytest

from paritybench.timing.flops import matmul_flops
from paritybench.workloads import resolve_ref

jax = pytest.importorskip("jax", reason="jax not installed: make setup")
import jax.numpy as jnp  # noqa: E402

XLA_LIMIT = "xla-pair-x10"  # what the JAX figures' GFLOP/s is set against
WORKLOAD = benchutil.workload()
ARM = benchutil.timed_arm("jax")  # the fix: every loss formulation costs the same to a few elementwise ops
LOSS = ARM.loss
_forward = resolve_ref(ARM.jax_apply or WORKLOAD.model.jax_apply)
_loss = resolve_ref(ARM.loss_fn)
STEPS = WORKLOAD.training.steps


@pytest.fixture(scope="module")
def dev(problem):
    """The problem on JAX's default device, placed before timing so no transfer is timed."""
    benchutil.read_back("jax")
    put = jax.device_put
    arrays = jax.block_until_ready(
        {
            "params": {k: put(v) for k, v in problem["init"].items()},
            "x": put(problem["x"]),
            "y": put(problem["y"]),
            "dh": put(problem["dh"]),
            "lr": put(jnp.float32(problem["lr"])),
        }
    )
    return {**arrays, "device": benchutil.jax_device_label()}


def _compile(fn, *args) -> tuple:
    """Lower and compile ``jit(fn)`` for ``args``; the executable and its two times."""
    import time

    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    return compiled, {"lower_seconds": t1 - t0, "compile_seconds": t2 - t1}


def _mean_loss(params, x, y):
    return jnp.mean(_loss(_forward(params, x), y))


def _sgd_step(params, x, y, lr):
    loss, grads = jax.value_and_grad(_mean_loss)(params, x, y)
    return jax.tree.map(lambda w, g: w - lr * g, params, grads), loss


def _train(params, x, y, lr):
    final, losses_ = jax.lax.scan(lambda p, _: _sgd_step(p, x, y, lr), params, None, length=STEPS)
    return final, losses_


def _pair_flops(problem) -> tuple[int, int]:
    """The first layer's forward product x @ W0 and its backward x.T @ dh, at the workload's shapes."""
    (n, d_in), d_out = problem["x"].shape, problem["dh"].shape[1]
    return matmul_flops(n, d_in, d_out), matmul_flops(d_in, n, d_out)


MATMULS = {
    # label: (function, flops from the two products). "pair" is both of the step's big products
    # in one program: the matmul-only twin of a step, the reference its GFLOP/s is set against.
    "xla-fwd": (lambda x, w, dh: x @ w, lambda f: f[0]),
    "xla-bwd": (lambda x, w, dh: x.T @ dh, lambda f: f[1]),
    "xla-pair": (lambda x, w, dh: (x @ w, x.T @ dh), lambda f: f[0] + f[1]),
}


CHAIN = 10  # matmul pairs per call of xla-pair-x10


def _pair_chain(x, w, dh):
    """CHAIN dependent pairs in one program: a = x @ w_k, g = x.T @ a, w_k+1 = w_k + 1e-30 g.

    The throughput of the step's products without a dispatch per call: on a GPU a
    pair takes ~0.1 ms, which one dispatch from Python can exceed, so xla-pair alone
    would understate the device. The dependency keeps XLA from hoisting the products
    out of the loop; the scaled add is 0.05% of the work and stays far from overflow.
    """

    def body(wk, _):
        a = x @ wk
        return wk + jnp.float32(1e-30) * (x.T @ a), None

    return jax.lax.scan(body, w, None, length=CHAIN)[0]


def _time_compiled(timed, dev, fn, args, **meta) -> None:
    """Compile ``fn`` ahead (compile seconds recorded apart), then time one call per round.

    ``flops=None``: the workload is no dense chain, so XLA's cost analysis of the program counts them."""
    compiled, times = _compile(fn, *args)
    if meta.get("flops") is None:
        cost = compiled.cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        meta["flops"] = int(cost["flops"])  # the whole program's: every step of a scan
        times["flops_source"] = "xla cost analysis"
    timed(
        lambda: jax.block_until_ready(compiled(*args)),
        suite="jax",
        device=dev["device"],
        dtype="float32",
        **meta,
        **times,
    )


def _kernel(problem):
    if problem["kernel"] is None:
        pytest.skip(f"workload {WORKLOAD.name}: its first parameter is no (in, out) kernel to time the products of")
    return problem["kernel"]


@pytest.mark.parametrize("label", list(MATMULS))
def test_matmul(timed, dev, problem, label):
    fn, flops = MATMULS[label]
    args = (dev["x"], dev["params"][_kernel(problem)], dev["dh"])
    _time_compiled(
        timed,
        dev,
        fn,
        args,
        kind="matmul",
        group="matmul-f32",
        label=label,
        measure="matmul",
        flops=flops(_pair_flops(problem)),
        steps_per_call=1,
    )


def test_matmul_chain(timed, dev, problem):
    """XLA's matmul throughput at the step's shapes, dispatch amortised: the reference of the JAX figures."""
    args = (dev["x"], dev["params"][_kernel(problem)], dev["dh"])
    _time_compiled(
        timed,
        dev,
        _pair_chain,
        args,
        kind="matmul",
        group="matmul-f32",
        label="xla-pair-x10",
        measure="matmul",
        flops=CHAIN * sum(_pair_flops(problem)),
        steps_per_call=CHAIN,
    )


def _step(problem, part: str):
    f = problem["step_flops"]
    return None if f is None else getattr(f, part)


def test_grad(timed, dev, problem):
    """The jitted gradient step alone: value_and_grad of the mean BCE, no update."""
    args = (dev["params"], dev["x"], dev["y"])
    _time_compiled(
        timed,
        dev,
        jax.value_and_grad(_mean_loss),
        args,
        kind="step",
        group="step",
        label="jax-grad",
        measure="step",
        flops=_step(problem, "gradient"),
        steps_per_call=1,
        blas=XLA_LIMIT,
        loss=LOSS,
        workload=WORKLOAD.name,
    )


def test_sgd_step(timed, dev, problem):
    """One full SGD step (gradient and ``w - lr * g``); params are not donated, so every round starts alike."""
    args = (dev["params"], dev["x"], dev["y"], dev["lr"])
    _time_compiled(
        timed,
        dev,
        _sgd_step,
        args,
        kind="step",
        group="step",
        label="jax-sgd",
        measure="step",
        flops=_step(problem, "total"),
        steps_per_call=1,
        blas=XLA_LIMIT,
        loss=LOSS,
        workload=WORKLOAD.name,
    )


def test_train_scan(timed, dev, problem):
    """The seed's 10 steps as one compiled ``lax.scan``: one dispatch for the whole training."""
    args = (dev["params"], dev["x"], dev["y"], dev["lr"])
    _time_compiled(
        timed,
        dev,
        _train,
        args,
        kind="train",
        group="train-10-steps",
        label="jax-scan",
        measure="train",
        flops=None if problem["step_flops"] is None else STEPS * problem["step_flops"].total,
        steps_per_call=STEPS,
        blas=XLA_LIMIT,
        loss=LOSS,
        workload=WORKLOAD.name,
    )
