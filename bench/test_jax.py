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

from paritybench.flops import matmul_flops, matmul_pair_flops, sgd_step_flops

jax = pytest.importorskip("jax", reason="jax not installed: make setup")
import jax.numpy as jnp  # noqa: E402

from paritybench import losses  # noqa: E402
from paritybench.arms.jax_arms import _forward  # noqa: E402

XLA_LIMIT = "xla-pair-x10"  # what the JAX figures' GFLOP/s is set against
LOSS = "logits"  # the fix (optax's logits BCE); every formulation costs the same to a few elementwise ops
STEPS = 10  # the seed's training length


@pytest.fixture(scope="module")
def dev(problem):
    """The problem on JAX's default device, placed before timing so no transfer is timed."""
    benchutil.read_back("jax")
    put = jax.device_put
    arrays = jax.block_until_ready({
        "params": {k: put(v) for k, v in problem["init"].items()},
        "x": put(problem["x"]), "y": put(problem["y"]), "dh": put(problem["dh"]),
        "lr": put(jnp.float32(problem["lr"])),
    })
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
    return jnp.mean(losses.LOSSES[LOSS](_forward(params, x), y))


def _sgd_step(params, x, y, lr):
    loss, grads = jax.value_and_grad(_mean_loss)(params, x, y)
    return jax.tree.map(lambda w, g: w - lr * g, params, grads), loss


def _train(params, x, y, lr):
    final, losses_ = jax.lax.scan(lambda p, _: _sgd_step(p, x, y, lr), params, None, length=STEPS)
    return final, losses_


MATMULS = {
    # label: (function, argument names, flops). "pair" is both of the step's big products
    # in one program: the matmul-only twin of a step, the reference its GFLOP/s is set against.
    "xla-fwd": (lambda x, w, dh: x @ w, matmul_flops(1000, 784, 1000)),
    "xla-bwd": (lambda x, w, dh: x.T @ dh, matmul_flops(784, 1000, 1000)),
    "xla-pair": (lambda x, w, dh: (x @ w, x.T @ dh), matmul_pair_flops()),
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
    """Compile ``fn`` ahead (compile seconds recorded apart), then time one call per round."""
    compiled, times = _compile(fn, *args)
    timed(lambda: jax.block_until_ready(compiled(*args)), suite="jax", device=dev["device"], dtype="float32",
          **meta, **times)


@pytest.mark.parametrize("label", list(MATMULS))
def test_matmul(timed, dev, label):
    fn, flops = MATMULS[label]
    args = (dev["x"], dev["params"]["dense_0/kernel"], dev["dh"])
    _time_compiled(timed, dev, fn, args, kind="matmul", group="matmul-f32", label=label, measure="matmul",
                   flops=flops, steps_per_call=1)


def test_matmul_chain(timed, dev):
    """XLA's matmul throughput at the step's shapes, dispatch amortised: the reference of the JAX figures."""
    args = (dev["x"], dev["params"]["dense_0/kernel"], dev["dh"])
    _time_compiled(timed, dev, _pair_chain, args, kind="matmul", group="matmul-f32", label="xla-pair-x10",
                   measure="matmul", flops=CHAIN * matmul_pair_flops(), steps_per_call=CHAIN)


def test_grad(timed, dev):
    """The jitted gradient step alone: value_and_grad of the mean BCE, no update."""
    args = (dev["params"], dev["x"], dev["y"])
    _time_compiled(timed, dev, jax.value_and_grad(_mean_loss), args, kind="step", group="step", label="jax-grad",
                   measure="step", flops=sgd_step_flops().gradient, steps_per_call=1, blas=XLA_LIMIT, loss=LOSS)


def test_sgd_step(timed, dev):
    """One full SGD step (gradient and ``w - lr * g``); params are not donated, so every round starts alike."""
    args = (dev["params"], dev["x"], dev["y"], dev["lr"])
    _time_compiled(timed, dev, _sgd_step, args, kind="step", group="step", label="jax-sgd", measure="step",
                   flops=sgd_step_flops().total, steps_per_call=1, blas=XLA_LIMIT, loss=LOSS)


def test_train_scan(timed, dev):
    """The seed's 10 steps as one compiled ``lax.scan``: one dispatch for the whole training."""
    args = (dev["params"], dev["x"], dev["y"], dev["lr"])
    _time_compiled(timed, dev, _train, args, kind="train", group="train-10-steps", label="jax-scan",
                   measure="train", flops=STEPS * sgd_step_flops().total, steps_per_call=STEPS, blas=XLA_LIMIT,
                   loss=LOSS)
