"""A softmax head's categorical cross-entropies under the names a folder's ``jax_model`` gives them: ``logits``
(the fix, from the logits), ``keras_clip`` (Keras-JAX's renormalised, clipped probabilities) and
``keras_torch_clip`` (Keras-torch's clamp), as ``kit/bce.py`` gives a sigmoid head's. A folder re-exports them as
``from paritybench.workloads.kit.ce import logits as logits`` (the explicit re-export form); their numerics are
``kit.losses``'s, explained there.
"""

from __future__ import annotations

from paritybench.workloads.kit.losses import ce_keras_clip as keras_clip
from paritybench.workloads.kit.losses import ce_keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.losses import ce_logits as logits

__all__ = ["keras_clip", "keras_torch_clip", "logits"]
