"""fit-shuffle in JAX: the 784-32-10 tanh MLP, Keras's default initial weights, the categorical CE paths.

The arms differ in their batch order only (``Arm.shuffle_seed``, trained by ``paritybench.arms.minibatch``): the
port steps through the window in order; the fix draws each epoch's order as Keras's JAX backend does,
``numpy_fit_order`` (``np.random.RandomState(seed)``, its first permutation taken by fit's symbolic build).
"""

from __future__ import annotations

from paritybench.workloads.fit_shuffle.workload import PARAMS
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import tanh_layers as layers
from paritybench.workloads.kit.jax import tanh_mlp as apply
from paritybench.workloads.kit.losses import ce_keras_clip as keras_clip
from paritybench.workloads.kit.losses import ce_keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.losses import ce_logits as logits

__all__ = ["apply", "init", "keras_clip", "keras_torch_clip", "layers", "logits"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)
