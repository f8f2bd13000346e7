"""loss-reduction in Keras 3: the 784-32-10 tanh MLP with a softmax output, trained as with ``fit(class_weight=cw)``.

paritybench's Keras worker calls ``fit(x, y)`` without a ``class_weight``, so the weights come in through the
loss, computed as ``fit`` does: ``fit(class_weight=cw)`` makes ``sample_weight[i] = cw[argmax(y_i)]``
(``keras/src/trainers/data_adapters/data_adapter_utils.py:120``) and the compiled loss multiplies each sample's
loss by it and divides the sum by the batch size (``keras/src/losses/loss.py``: ``reduce_weighted_values``,
``reduce_values`` with ``"sum_over_batch_size"``). ``loss`` writes that product per sample (the wrapper
``compile`` puts around a function reduces with ``"sum_over_batch_size"``); ``loss_mean_with_sample_weight``
hands the weights to ``CategoricalCrossentropy(reduction="mean_with_sample_weight")`` as ``sample_weight``.
"""

from __future__ import annotations

from paritybench.workloads.kit import keras as kit
from paritybench.workloads.loss_reduction.workload import CLASS_WEIGHT, SIZES

__all__ = ["build", "loss", "loss_mean_with_sample_weight"]


def build(keras):
    return kit.mlp(keras, SIZES, "tanh", "softmax")


def loss(keras):
    """Categorical CE on the softmax output times each sample's class weight: ``fit(class_weight=cw)``'s loss
    per sample."""
    cw = keras.ops.convert_to_tensor(CLASS_WEIGHT)

    def class_weighted_categorical_crossentropy(y_true, y_pred):
        w = keras.ops.sum(y_true * keras.ops.cast(cw, y_true.dtype), axis=-1)
        return keras.losses.categorical_crossentropy(y_true, y_pred) * w

    return class_weighted_categorical_crossentropy


def loss_mean_with_sample_weight(keras):
    """``CategoricalCrossentropy(reduction="mean_with_sample_weight")`` called with the class weights as
    ``sample_weight``: ``sum(w l) / sum(w)``, torch's reduction, through Keras's own ``Loss.__call__``."""
    cw = keras.ops.convert_to_tensor(CLASS_WEIGHT)
    base = keras.losses.CategoricalCrossentropy(reduction="mean_with_sample_weight")

    class ClassWeightedMeanWithSampleWeight(keras.losses.Loss):  # type: ignore[name-defined]  # keras is the argument
        def __init__(self):
            super().__init__(name="class_weighted_mean_with_sample_weight", reduction="mean_with_sample_weight")

        def __call__(self, y_true, y_pred, sample_weight=None):
            w = keras.ops.sum(y_true * keras.ops.cast(cw, y_true.dtype), axis=-1)
            return base(y_true, y_pred, sample_weight=w)

        def get_config(self):
            return {**base.get_config(), "class_weight": dict(enumerate(CLASS_WEIGHT))}

    return ClassWeightedMeanWithSampleWeight()
