"""tf32-matmul in torch: the 784-512-512-1 ReLU MLP with torch's own matmul defaults.

torch decides float32 matmul precision per process (``torch.backends.cuda.matmul.allow_tf32``, default
False since 1.12; ``torch.set_float32_matmul_precision``, default "highest"); paritybench's deterministic
flags force TF32 off, ``--no-deterministic`` leaves torch's default, which is what this arm measures on a GPU.
"""

from __future__ import annotations

import torch


def apply(params, x):
    """The logit (n, 1); kernels in (in, out) layout, as in JAX."""
    h = x
    for i in range(2):
        h = torch.relu(h @ params[f"dense_{i}/kernel"] + params[f"dense_{i}/bias"])
    return h @ params["dense_2/kernel"] + params["dense_2/bias"]
