"""The parameter table of a Keras model, and assigning mapped weights to it (Keras imported when called).

Order: ``model.layers``, nested models flattened in place. For a Sequential or functional model that is the
forward order (a functional model lists its layers in the graph's order); for a subclassed ``keras.Model`` it is
the order ``__init__`` assigned them (as torch's registration order). Each layer's variables are
``layer.weights`` (its trainable then non-trainable variables, keras/src/layers/layer.py:712-730); the role is
the variable's own name (``kernel``, ``gamma``, ``moving_mean``, ...), the name is its unique ``path``.
A Dense that follows a Flatten of a feature map (weightless layers such as Dropout between them) gets the
map's shape in channels-last order, which is the order Keras's Flatten always flattens in
(keras/src/layers/reshaping/flatten.py:46-48).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from paritybench.errors import ParityError

from .mapping import Param, check_assignable

# Keras layer class -> the mapping's layer type
LAYER_TYPES = {
    "Dense": "dense",
    "Conv1D": "conv1d",
    "Conv2D": "conv2d",
    "Conv3D": "conv3d",
    "Embedding": "embedding",
    "BatchNormalization": "batchnorm",
    "LayerNormalization": "layernorm",
    "LSTM": "lstm",
    "GRU": "gru",
}


def _layers(model: Any) -> list[Any]:
    import keras  # late: Keras reads KERAS_BACKEND when imported, after the caller's numerics flags

    out: list[Any] = []
    for layer in model.layers:
        out += _layers(layer) if isinstance(layer, keras.Model) else [layer]
    return out


def _flatten_shape(layer: Any) -> tuple[int, ...] | None:
    """The channels-last shape (without the batch axis) a Flatten layer flattens, where the model knows it."""
    try:
        shape = tuple(int(d) for d in layer.input.shape[1:])
    except (AttributeError, ValueError, TypeError):
        return None
    if getattr(layer, "data_format", "channels_last") == "channels_first" and len(shape) > 1:
        shape = (*shape[1:], shape[0])  # Keras's Flatten moves the channels last before it reshapes
    return shape if len(shape) > 1 else None


def read_keras(model: Any, flatten_from: Mapping[str, tuple[int, ...]] | None = None) -> list[Param]:
    """The parameter table of a built Keras model (layers in ``model.layers`` order, variables with roles)."""
    if not model.built:
        raise ParityError("weight mapping: the Keras model is not built; call it once or give it an Input first")
    table: list[Param] = []
    pending: tuple[int, ...] | None = None
    for layer in _layers(model):
        cls = type(layer).__name__
        if cls == "Flatten":
            pending = _flatten_shape(layer)
            continue
        if not layer.weights:
            continue
        layer_type = LAYER_TYPES.get(cls, cls.lower())
        ff = (flatten_from or {}).get(layer.name, pending) if layer_type == "dense" else None
        for v in layer.weights:
            role = v.name
            table.append(
                Param(
                    "keras",
                    layer.name,
                    layer_type,
                    role,
                    v.path,
                    tuple(int(d) for d in v.shape),
                    str(v.dtype),
                    ff if role == "kernel" else None,
                )
            )
        pending = None
    return table


def keras_arrays(model: Any) -> dict[str, np.ndarray]:
    """Every weight of ``model`` as a NumPy array, by its path."""
    return {v.path: np.asarray(v.numpy()) for layer in _layers(model) for v in layer.weights}


def assign_keras(model: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """Assign mapped arrays to ``model``'s variables (by path), shapes checked first."""
    variables = {v.path: v for layer in _layers(model) for v in layer.weights}
    check_assignable(arrays, {k: tuple(v.shape) for k, v in variables.items()}, "the Keras model", "Keras", "model")
    for name, value in arrays.items():
        variables[name].assign(np.asarray(value))
