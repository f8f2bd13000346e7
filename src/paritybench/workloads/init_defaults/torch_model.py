"""init-defaults in torch: the seed's MLP with torch's own ``nn.Linear`` defaults, trained natively in torch
(the functional forward pass and BCE from logits are the kit's).

``torch_default_init`` builds ``nn.Linear(784, 1000)`` and ``nn.Linear(1000, 1)`` under
``torch.manual_seed(seed)``: their ``reset_parameters`` draw ``kaiming_uniform_(a=sqrt 5)`` kernels and
U(+-1/sqrt(fan_in)) biases (``torch/nn/modules/linear.py``) from torch's own generator, the weights a
torch user gets. Kernels are returned transposed to the declared (in, out) layout.
"""

from __future__ import annotations

import numpy as np

from paritybench.workloads.init_defaults.workload import SIZES
from paritybench.workloads.kit.torch import bce_logits
from paritybench.workloads.kit.torch import relu_mlp as apply

__all__ = ["apply", "bce_logits", "torch_default_init"]


def torch_default_init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """torch's ``nn.Linear`` default initial weights at ``torch.manual_seed(seed)`` (no JAX PRNG involved)."""
    del threefry_partitionable
    import torch  # late: a framework: loads after the numerics flags

    gen_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        l0, l1 = torch.nn.Linear(SIZES[0], SIZES[1]), torch.nn.Linear(SIZES[1], SIZES[2])
    finally:
        torch.random.set_rng_state(gen_state)  # the caller's torch RNG is left as it was
    with torch.no_grad():
        return {
            "dense_0/kernel": l0.weight.T.contiguous().numpy().copy(),
            "dense_0/bias": l0.bias.numpy().copy(),
            "dense_1/kernel": l1.weight.T.contiguous().numpy().copy(),
            "dense_1/bias": l1.bias.numpy().copy(),
        }
