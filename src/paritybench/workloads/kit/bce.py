"""A sigmoid head's binary cross-entropies under the names a folder's ``jax_model`` gives them: ``logits`` (the
fix, from the logits), ``keras_clip`` (Keras-JAX's clipped probabilities) and ``keras_torch_clip`` (Keras-torch's
clamp), the names ``Folder.bce_fix``, ``bce_keras_emulations`` and ``reference`` reference. A folder re-exports
them as ``from paritybench.workloads.kit.bce import logits as logits`` (the explicit re-export form); their
numerics are ``kit.losses``'s, explained there.
"""

from __future__ import annotations

from paritybench.workloads.kit.losses import bce_keras_clip as keras_clip
from paritybench.workloads.kit.losses import bce_keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.losses import bce_logits as logits

__all__ = ["keras_clip", "keras_torch_clip", "logits"]
