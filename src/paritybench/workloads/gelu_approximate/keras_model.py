"""gelu-approximate in Keras 3: 784-64-10, ``Dense(64, activation="gelu")`` and a softmax output, categorical CE.

``activation="gelu"`` resolves to ``keras.activations.gelu``, whose ``approximate`` defaults to False
(``keras/src/activations/activations.py:338``): the exact GELU on every backend (TensorFlow: ``tf.nn.gelu``
with ``approximate=False``; JAX: ``jax.nn.gelu(x, False)``; torch: ``torch.nn.functional.gelu(x)``,
``keras/src/backend/*/nn.py``).
"""

from __future__ import annotations

from paritybench.workloads.gelu_approximate.workload import SIZES
from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output
from paritybench.workloads.kit.keras import dense_variables

__all__ = ["build", "loss"]


def build(keras, approximate: bool = False):
    """The model as a Keras user writes it, ``Dense(64, activation="gelu")`` (exact); ``approximate`` (the arm's
    ``keras_options``) True gives ``keras.activations.gelu(x, approximate=True)``, the tanh form, on that layer."""
    n_in, hidden, classes = SIZES

    def gelu_tanh(x):
        return keras.activations.gelu(x, approximate=True)

    first = keras.layers.Dense(hidden, activation=gelu_tanh if approximate else "gelu")
    last = keras.layers.Dense(classes, activation="softmax")
    model = keras.Sequential([keras.Input(shape=(n_in,)), first, last])
    return model, dense_variables(first, last)
