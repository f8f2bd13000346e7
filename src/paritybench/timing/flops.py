"""Floating-point operation counts of one training step: the one place they are counted.

The timing suites (``bench/``) record these counts with every benchmark and the
``timing`` command divides them by the measured times, so a step time becomes
achieved GFLOP/s and can be set against the matmul throughput measured in the
same session. A multiply-add counts as 2 operations, the usual convention of
BLAS benchmarks (a GEMM of (m, k) by (k, n) is 2*m*k*n).

For the seed's 784-1000-1 MLP on a batch of 1,000 the two (1000, 784, 1000) products
(the forward ``x @ W0`` and the backward ``x.T @ dh``) are 99.7% of the step;
everything else is counted too, so the figure is exact, not a rounding of them.
"""

from __future__ import annotations

from dataclasses import dataclass


def matmul_flops(m: int, k: int, n: int) -> int:
    """Operations of an (m, k) @ (k, n) product: one multiply and one add per term."""
    return 2 * m * k * n


@dataclass(frozen=True)
class StepFlops:
    """Operations of one full-batch SGD step, split as the timing report shows them."""

    forward: int
    backward: int
    update: int

    @property
    def gradient(self) -> int:
        """Forward plus backward: what a jitted gradient (value_and_grad) computes."""
        return self.forward + self.backward

    @property
    def total(self) -> int:
        """Gradient plus the SGD update ``w - lr * g``: one training step."""
        return self.forward + self.backward + self.update


def sgd_step_flops(n: int, d_in: int, hidden: int, d_out: int = 1) -> StepFlops:
    """Count one SGD step of the d_in-hidden-d_out MLP (ReLU, sigmoid/BCE) on a batch of n.

    The loss itself (a sigmoid, a log and a mean over n logits) is a few
    operations per sample, n * d_out in all, below 1e-5 of the step; it is
    counted as 4 per logit, the usual tally for a log-sigmoid and its derivative.
    """
    forward = (
        matmul_flops(n, d_in, hidden)  # a = x @ W0
        + n * hidden  # + b0
        + n * hidden  # relu
        + matmul_flops(n, hidden, d_out)  # z = h @ W1
        + n * d_out  # + b1
        + 4 * n * d_out  # the loss on the logits
    )
    backward = (
        4 * n * d_out  # dz = (sigmoid(z) - y) / n
        + matmul_flops(hidden, n, d_out)  # dW1 = h.T @ dz
        + n * d_out  # db1 = sum(dz)
        + matmul_flops(n, d_out, hidden)  # dh = dz @ W1.T
        + n * hidden  # dh * (a > 0)
        + matmul_flops(d_in, n, hidden)  # dW0 = x.T @ dh
        + n * hidden  # db0 = sum(dh)
        # No dx = dh @ W0.T: the input is not a parameter, so no framework computes it
        # (XLA removes it as dead code), and counting it would inflate GFLOP/s by 50%.
    )
    n_params = d_in * hidden + hidden + hidden * d_out + d_out
    update = 2 * n_params  # w - lr * g: one multiply, one subtract per weight
    return StepFlops(forward=forward, backward=backward, update=update)


def matmul_pair_flops(n: int, d_in: int, hidden: int) -> int:
    """The step's two big products, ``x @ W0`` and ``x.T @ dh``: the matmul benchmarks' work."""
    return matmul_flops(n, d_in, hidden) + matmul_flops(d_in, n, hidden)


def dense_chain(params) -> list[tuple[int, int]] | None:
    """The (in, out) sizes of a chain of dense layers, read from a workload's declared parameters
    (kernel (a, b) then bias (b,), each layer's a the previous b); None for anything else."""
    shapes = list(params.values())
    if len(shapes) % 2 or not shapes:
        return None
    layers: list[tuple[int, int]] = []
    for kernel, bias in zip(shapes[::2], shapes[1::2], strict=True):
        if len(kernel) != 2 or tuple(bias) != (kernel[1],) or (layers and layers[-1][1] != kernel[0]):
            return None
        layers.append((kernel[0], kernel[1]))
    return layers


def chain_step_flops(n: int, layers: list[tuple[int, int]]) -> StepFlops:
    """``sgd_step_flops`` for any chain of dense layers (an activation after each hidden one, counted
    as one operation per unit); for the seed's two layers it is exactly ``sgd_step_flops``."""
    d_out = layers[-1][1]
    forward = 4 * n * d_out + sum(matmul_flops(n, a, b) + n * b for a, b in layers)
    forward += sum(n * b for _, b in layers[:-1])  # activations
    backward = 4 * n * d_out + sum(matmul_flops(a, n, b) + n * b for a, b in layers)
    backward += sum(matmul_flops(n, b, a) + n * a for a, b in layers[1:])  # dh to the layer below, activation'
    update = 2 * sum(a * b + b for a, b in layers)
    return StepFlops(forward=forward, backward=backward, update=update)


def workload_step_flops(workload, n: int) -> StepFlops | None:
    """One step's count for a workload whose model is a dense chain; None (the caller asks XLA's
    cost analysis) for any other architecture."""
    layers = dense_chain(workload.model.params)
    return chain_step_flops(n, layers) if layers else None
