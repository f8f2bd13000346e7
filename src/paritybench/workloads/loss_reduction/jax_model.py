"""loss-reduction in JAX: Keras's initial weights, the 784-32-10 tanh forward pass, and the class-weighted CE
per sample under each reduction (the trainer takes the mean of what a loss function returns per sample).

- ``weighted`` (the fix, the reference's): ``w_i l_i``, whose mean is Keras's ``sum(w_i l_i) / n``;
- ``weighted_mean`` (the literal port): ``w_i l_i n / sum(w_i)``, whose mean is torch's ``sum(w_i l_i) / sum(w_i)``;
- ``keras_clip``, ``keras_torch_clip``: ``w_i`` times Keras-JAX's and Keras-torch's CE on clipped probabilities.
"""

from __future__ import annotations

import jax.numpy as jnp

from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.kit.jax import tanh_layers as layers
from paritybench.workloads.kit.jax import tanh_mlp as apply
from paritybench.workloads.kit.losses import ce_keras_clip, ce_keras_torch_clip, ce_logits
from paritybench.workloads.loss_reduction.workload import CLASS_WEIGHT, PARAMS

__all__ = ["apply", "init", "keras_clip", "keras_torch_clip", "layers", "sample_weight", "weighted", "weighted_mean"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def sample_weight(y):
    """Each sample's class weight from its one-hot label: what ``fit(class_weight=...)`` hands the loss."""
    return jnp.sum(y * jnp.asarray(CLASS_WEIGHT, y.dtype), axis=-1)


def weighted(z, y):
    """``w_i l_i`` (CE from logits): averaged over the batch, Keras's ``sum_over_batch_size``."""
    return sample_weight(y) * ce_logits(z, y)


def weighted_mean(z, y):
    """``w_i l_i n / sum(w)``: averaged over the batch, torch's weighted ``'mean'``, ``sum(w l) / sum(w)``."""
    w = sample_weight(y)
    return w * ce_logits(z, y) * (w.shape[0] / jnp.sum(w))


def keras_clip(z, y):
    """Keras-JAX's class-weighted CE: ``w_i`` times the CE on clipped probabilities."""
    return sample_weight(y) * ce_keras_clip(z, y)


def keras_torch_clip(z, y):
    """Keras-torch's class-weighted CE: ``w_i`` times the CE with torch's clamp."""
    return sample_weight(y) * ce_keras_torch_clip(z, y)
