"""seed-bce in torch: the forward pass over the declared (in, out) parameters (784-1000-1, ReLU: the logit;
the sigmoid is the head's) and the two torch BCEs (``kit/torch.py``, where aten's clamp and the dead gradients
it leaves are explained): ``bce``, the literal port on sigmoid probabilities, and ``bce_logits``, the fix."""

from __future__ import annotations

from paritybench.workloads.kit.torch import bce, bce_logits
from paritybench.workloads.kit.torch import relu_mlp as apply

__all__ = ["apply", "bce", "bce_logits"]
