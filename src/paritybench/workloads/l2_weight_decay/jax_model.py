"""l2-weight-decay in JAX: the 784-32-10 tanh MLP (the kit's), and the decay written four ways as optax chains.

- ``sgd_decay_literal``: the port, ``add_decayed_weights(lam)`` before SGD: the gradient gets ``lam * w``
  (``optax/transforms/_adding.py``: ``g + weight_decay * p``), as torch's ``SGD(weight_decay=lam)``.
- ``sgd_l2``: Keras's ``l2(lam)``, whose penalty ``lam * sum(w^2)`` (``keras/src/regularizers/regularizers.py``)
  puts ``2 * lam * w`` into the gradient: ``add_decayed_weights(2 * lam)``. The fix, and the emulation.
- ``adam_l2``: coupled decay with Adam (Keras ``Adam`` + ``l2``): ``2 * lam * w`` enters Adam's moments and is
  normalised away with the data gradient.
- ``keras_adamw``: decoupled decay (Keras ``AdamW``): ``w -= lr * wd * w`` outside Adam, every variable.

The Adam chains run at ``lr * ADAM_LR_SCALE`` (see ``workload.py``).
Kernels only for the L2 transforms (``mask``), as Keras's ``kernel_regularizer`` does; biases are untouched.
"""

from __future__ import annotations

import optax

from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import tanh_layers as layers
from paritybench.workloads.kit.jax import tanh_mlp as apply
from paritybench.workloads.kit.optimizers import keras_adam
from paritybench.workloads.l2_weight_decay.workload import ADAM_LR_SCALE, LAM, PARAMS

__all__ = ["adam_l2", "apply", "init", "keras_adamw", "layers", "sgd_decay_literal", "sgd_l2"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def kernels(params):
    """The mask of the parameters ``kernel_regularizer`` reaches."""
    return {k: k.endswith("kernel") for k in params}


def sgd_decay_literal(lr: float) -> optax.GradientTransformation:
    """The literal port: the Keras model's lam handed to ``add_decayed_weights`` (kernels only)."""
    return optax.chain(optax.add_decayed_weights(LAM, mask=kernels), optax.sgd(lr))


def sgd_l2(lr: float) -> optax.GradientTransformation:
    """Keras's SGD + ``l2(lam)``: the penalty's gradient ``2 * lam * w`` on the kernels, then SGD."""
    return optax.chain(optax.add_decayed_weights(2 * LAM, mask=kernels), optax.sgd(lr))


def adam_l2(lr: float) -> optax.GradientTransformation:
    """Keras's Adam + ``l2(lam)`` (coupled): ``2 * lam * w`` added to the gradient, then Keras's Adam."""
    return optax.chain(optax.add_decayed_weights(2 * LAM, mask=kernels), keras_adam(lr * ADAM_LR_SCALE))


def keras_adamw(lr: float) -> optax.GradientTransformation:
    """Keras's ``AdamW(weight_decay=lam)`` (decoupled): Keras's Adam step plus ``-lr * lam * w`` on every
    variable. Keras subtracts the two in sequence; optax adds them into one update (rounding-level apart)."""
    lr = lr * ADAM_LR_SCALE
    return optax.chain(keras_adam(lr), optax.add_decayed_weights(-lr * LAM))
