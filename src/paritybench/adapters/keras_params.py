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

import contextlib
from collections.abc import Callable, Iterator, Mapping
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


# the Keras layers whose ``call`` ends in ``if self.activation is not None: x = self.activation(x)`` on every
# path, the quantized ones included (keras/src/layers/core/dense.py Dense.call, core/einsum_dense.py
# EinsumDense.call, convolutional/base_conv.py BaseConv.call, conv1d.py Conv1D.call, base_conv_transpose.py,
# base_depthwise_conv.py, base_separable_conv.py): their weighted part's output is the value before that line.
# A recurrent layer's ``activation`` acts inside its cell, at every step: its output is taken as it is.
FUSED_ACTIVATION = (
    "Dense",
    "EinsumDense",
    "Conv1D",
    "Conv2D",
    "Conv3D",
    "Conv1DTranspose",
    "Conv2DTranspose",
    "Conv3DTranspose",
    "DepthwiseConv1D",
    "DepthwiseConv2D",
    "SeparableConv1D",
    "SeparableConv2D",
)


def weighted_layers(keras: Any, model: Any) -> tuple[list[tuple[str, Any, bool, Any]], Any]:
    """``localize``'s view of a Keras model's layers (``Model.keras_weighted_layers``): ``([(name, layer, pre,
    inner)], sub-model)``, each of the model's layers with weights in ``model.layers`` order, by its own name, and a
    sub-model from the model's inputs to, per layer, its input where ``pre`` (a layer with a fused activation,
    :data:`FUSED_ACTIVATION`: the caller calls it on that input with :func:`activation_off`, the same ops ``call``
    runs up to the activation, what a torch forward hook on ``nn.Linear`` sees) or else its output (an LSTM's, a
    BatchNormalization's, as they are). A nested model (a Sequential block inside a functional model, a
    ``keras.Model`` used as a layer) with a graph of its own is its inner layers, in its forward order: ``inner``
    is this function's answer for it, and the sub-model gives the nested model's input, on which
    :func:`layer_outputs` runs the inner sub-model (names ``block/dense_1``); a nested model without a graph (a
    subclassed one) is one layer, its output. A layer that cannot be addressed in the model's graph (a
    subclassed model without ``inputs``, a layer called at several places) is left out; no such layer: ``([],
    None)``."""
    fused = tuple(getattr(keras.layers, c) for c in FUSED_ACTIVATION)
    layers: list[tuple[str, Any, bool, Any]] = []
    tensors = []
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        inputs = None
    for layer in model.layers if inputs else ():
        if not layer.weights:
            continue
        inner = weighted_layers(keras, layer) if isinstance(layer, keras.Model) else None
        if inner is not None and inner[1] is None:
            inner = None  # no graph of its own: the nested model is one layer
        pre = inner is None and isinstance(layer, fused) and getattr(layer, "activation", None) is not None
        try:
            t = layer.input if pre or inner is not None else layer.output
        except (AttributeError, ValueError):  # never called in the graph, or called at several nodes
            continue
        if pre and not hasattr(t, "shape"):  # several inputs: not one tensor to call the layer on
            continue
        layers.append((layer.name, layer, pre, inner))
        tensors.append(t)
    if not tensors:
        return layers, None
    # one input as one tensor, as a Sequential takes it (a one-item list warns that the structure differs)
    return layers, keras.Model(inputs[0] if len(inputs) == 1 else inputs, tensors)


def layer_outputs(
    named: list[tuple[str, Any, bool, Any]], sub: Any, x: Any, call: Callable[[Any, Any], Any], prefix: str = ""
) -> dict[str, Any]:
    """{layer name: output} of :func:`weighted_layers`' answer on ``x``, nested models' layers as ``outer/inner``;
    ``call(fn, value)`` runs a sub-model or a layer on a value (``fn(value)``, or its ``stateless_call``)."""
    if sub is None:
        return {}
    outs = call(sub, x)
    outs = outs if isinstance(outs, (list, tuple)) else [outs]
    got: dict[str, Any] = {}
    for (name, layer, pre, inner), o in zip(named, outs, strict=True):
        if inner is not None:
            inner_named, inner_sub = inner
            got.update(layer_outputs(inner_named, inner_sub, o, call, f"{prefix}{name}/"))
            continue
        if pre:
            with activation_off(layer):
                o = call(layer, o)
        got[prefix + name] = o
    return got


@contextlib.contextmanager
def activation_off(layer: Any) -> Iterator[None]:
    """``layer`` computing without its fused activation inside (``activation`` None skips it), given back after."""
    act = layer.activation
    layer.activation = None
    try:
        yield
    finally:
        layer.activation = act
