"""leaky-relu-slope in Keras 3: ``Dense(64)`` -> ``LeakyReLU()`` -> ``Dense(10, softmax)``, categorical CE.

``keras.layers.LeakyReLU()`` defaults to ``negative_slope=0.3`` (``keras/src/layers/activations/leaky_relu.py``);
``Dense(activation="leaky_relu")`` resolves to ``keras.activations.leaky_relu``, whose default is 0.2
(``keras/src/activations/activations.py``). Every backend computes ``leaky_relu`` with the slope it is given
(``keras/src/backend/*/nn.py``).
"""

from __future__ import annotations

from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the softmax output
from paritybench.workloads.kit.keras import dense_variables
from paritybench.workloads.leaky_relu_slope.workload import SIZES

__all__ = ["build", "loss"]


def build(keras, negative_slope: float | None = None, activation_string: bool = False):
    """The model as a Keras user writes it, ``LeakyReLU()`` at its default slope; the arm's ``keras_options``:
    ``negative_slope`` sets the layer's slope, ``activation_string`` True writes ``Dense(activation="leaky_relu")``
    instead of the layer (layer 1 is then an identity ``Activation("linear")``, so the layer indices stay)."""
    n_in, hidden, classes = SIZES
    if activation_string:
        first, act = keras.layers.Dense(hidden, activation="leaky_relu"), keras.layers.Activation("linear")
    else:
        kw = {} if negative_slope is None else {"negative_slope": negative_slope}
        first, act = keras.layers.Dense(hidden), keras.layers.LeakyReLU(**kw)
    last = keras.layers.Dense(classes, activation="softmax")
    model = keras.Sequential([keras.Input(shape=(n_in,)), first, act, last])
    return model, dense_variables(first, last)
