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


def bn_mlp(keras, inputs: int, hidden: int, classes: int, **bn_options):
    """``Dense(hidden)`` -> ``BatchNormalization(**bn_options)`` -> ReLU -> ``Dense(classes, softmax)``, and its
    variables by ``kit.mlp.bn_params``'s names, then the moving statistics (``Model.state``), which the worker
    reads back after every step."""
    bn = keras.layers.BatchNormalization(**bn_options)
    model = keras.Sequential(
        [
            keras.Input(shape=(inputs,)),
            keras.layers.Dense(hidden),
            bn,
            keras.layers.Activation("relu"),
            keras.layers.Dense(classes, activation="softmax"),
        ]
    )
    d0, d1 = model.layers[0], model.layers[3]
    variables = {
        "dense_0/kernel": d0.kernel,
        "dense_0/bias": d0.bias,
        "bn/gamma": bn.gamma,
        "bn/beta": bn.beta,
        "dense_1/kernel": d1.kernel,
        "dense_1/bias": d1.bias,
        "bn/moving_mean": bn.moving_mean,
        "bn/moving_variance": bn.moving_variance,
    }
    return model, variables


def conv_classifier(keras, side: int, body):
    """``Sequential``: ``Input(side * side)``, ``Reshape((side, side, 1))``, the layers ``body(keras.layers)``
    returns (one of them the ``Conv2D``), ``Flatten`` and ``Dense(1, sigmoid)``; and its variables by
    ``kit.conv``'s names. The layers are made in that order, as a Keras user writes them."""
    head = [keras.Input(shape=(side * side,)), keras.layers.Reshape((side, side, 1))]
    model = keras.Sequential(
        head + body(keras.layers) + [keras.layers.Flatten(), keras.layers.Dense(1, activation="sigmoid")]
    )
    conv = next(layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D))
    dense = model.layers[-1]
    return model, {
        f"{name}/{v}": getattr(layer, v)
        for name, layer in (("conv", conv), ("dense", dense))
        for v in ("kernel", "bias")
    }


def dense_variables(*dense) -> dict:
    """The variables of the ``Dense`` layers ``dense``, in forward order, by the kit's declared names:
    ``dense_i/kernel`` and ``dense_i/bias`` (``mlp.dense_params``)."""
    variables = {}
    for i, layer in enumerate(dense):
        variables[f"dense_{i}/kernel"], variables[f"dense_{i}/bias"] = layer.kernel, layer.bias
    return variables


def binary_crossentropy(keras):
    """BCE on the sigmoid output (``from_logits=False``), as one writes it."""
    return keras.losses.binary_crossentropy


def categorical_crossentropy(keras):
    """``categorical_crossentropy`` on the softmax output (``from_logits=False``), as one writes it."""
    return keras.losses.categorical_crossentropy


def adam(keras, lr, beta_1: float = BETA_1, beta_2: float = BETA_2, epsilon: float = EPSILON):
    """``keras.optimizers.Adam`` (epsilon-hat: added to the uncorrected sqrt(v)), Keras's defaults."""
    return keras.optimizers.Adam(learning_rate=lr, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)
