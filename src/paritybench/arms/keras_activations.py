"""Keras activations a layer's config cannot name by a string: GELU's tanh form. A layer's ``activation="gelu"``
is ``keras.activations.gelu(x, approximate=False)`` (``keras/src/activations/activations.py``), and
``keras.activations.get`` looks a string up among Keras's own activations only; the tanh form is the same Keras
function with ``approximate=True``, registered with ``keras.saving.register_keras_serializable`` and given to the
layer's config as its serialized form (what ``get_config`` writes for a registered function). A ``KerasEdit`` of a
layer's ``activation`` to a name of ``NAMES`` is applied so (``keras_worker.edit_layers``)."""

from __future__ import annotations

from typing import Any

GELU_TANH = "paritybench>gelu_tanh"
NAMES = (GELU_TANH,)


def config(keras, name: str) -> dict[str, Any]:
    """The serialized activation ``name`` (one of ``NAMES``), registered with Keras first."""
    if name != GELU_TANH:
        raise ValueError(f"activation {name!r} is not one of {NAMES}")

    def gelu_tanh(x):
        return keras.activations.gelu(x, approximate=True)

    package, short = GELU_TANH.split(">")
    fn = keras.saving.register_keras_serializable(package=package, name=short)(gelu_tanh)
    return keras.saving.serialize_keras_object(fn)
