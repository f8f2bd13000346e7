"""tf32-matmul in torch: the 784-512-512-1 ReLU MLP with torch's own matmul defaults.

torch decides float32 matmul precision per process (``torch.backends.cuda.matmul.allow_tf32``, default
False since 1.12; ``torch.set_float32_matmul_precision``, default "highest"); paritybench's deterministic
flags force TF32 off, ``--no-deterministic`` leaves torch's default, which is what this arm measures on a GPU.
"""

from __future__ import annotations

from paritybench.workloads.kit.torch import bce_logits
from paritybench.workloads.kit.torch import relu_mlp as apply  # the logit (n, 1); kernels (in, out), as in JAX

__all__ = ["apply", "bce_logits"]
