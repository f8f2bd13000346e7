"""fit-shuffle in JAX: the 784-32-10 tanh MLP, Keras's default initial weights, the categorical CE paths.

The arms differ in their batch order only (``Arm.shuffle_seed``, trained by ``paritybench.arms.minibatch``): the
port steps through the window in order; the fix draws each epoch's order as Keras's JAX backend does,
``numpy_fit_order`` (``np.random.RandomState(seed)``, its first permutation taken by fit's symbolic build).
"""

from __future__ import annotations

from paritybench.workloads.fit_shuffle.workload import PARAMS
from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import tanh_layers as layers
from paritybench.workloads.kit.jax import tanh_mlp as apply

__all__ = ["apply", "init", "layers"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)
