"""The MLP in Keras 3, and the losses and optimizers as a Keras user writes them.

Every function takes the ``keras`` module (the worker imports it after choosing the backend), so this
module imports no framework.
"""

from __future__ import annotations

from paritybench.workloads.kit.optimizers import BETA_1, BETA_2, EPSILON


def mlp(keras, sizes: tuple[int, ...], activation: str, head: str, **dense_options):
    """``Sequential`` of ``Dense`` layers, ``activation`` on the hidden ones and ``head`` (``"sigmoid"`` or
    ``"softmax"``) on the last, and its variables by the kit's declared names (``mlp.dense_params``).
    ``dense_options`` (a ``kernel_regularizer``, ...) go to every Dense."""
    last = len(sizes) - 2
    model = keras.Sequential(
        [keras.Input(shape=(sizes[0],))]
        + [
            keras.layers.Dense(width, activation=head if i == last else activation, **dense_options)
            for i, width in enumerate(sizes[1:])
        ]
    )
    variables = {}
    for i, layer in enumerate(model.layers):
        variables[f"dense_{i}/kernel"], variables[f"dense_{i}/bias"] = layer.kernel, layer.bias
    return model, variables


def binary_crossentropy(keras):
    """BCE on the sigmoid output (``from_logits=False``), as one writes it."""
    return keras.losses.binary_crossentropy


def categorical_crossentropy(keras):
    """``categorical_crossentropy`` on the softmax output (``from_logits=False``), as one writes it."""
    return keras.losses.categorical_crossentropy


def adam(keras, lr, beta_1: float = BETA_1, beta_2: float = BETA_2, epsilon: float = EPSILON):
    """``keras.optimizers.Adam`` (epsilon-hat: added to the uncorrected sqrt(v)), Keras's defaults."""
    return keras.optimizers.Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
