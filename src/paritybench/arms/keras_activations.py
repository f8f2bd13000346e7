"""Keras activations a layer's config cannot name by a string, and which GELU a layer's activation computes.

GELU's tanh form: a layer's ``activation="gelu"`` is ``keras.activations.gelu(x, approximate=False)``
(``keras/src/activations/activations.py``), and ``keras.activations.get`` looks a string up among Keras's own
activations only; the tanh form is the same Keras function with ``approximate=True``, registered with
``keras.saving.register_keras_serializable`` and given to the layer's config as its serialized form (what
``get_config`` writes for a registered function). A ``KerasEdit`` of a layer's ``activation`` to a name of ``NAMES``
is applied so (``keras_worker.edit_layers``).

Which GELU a layer computes is not in its config: ``keras.ops.gelu`` defaults to ``approximate=True`` (the tanh
form, ``keras/src/ops/nn.py``) yet serializes as ``"gelu"``, which deserializes to the exact
``keras.activations.gelu``; a function or lambda a user wrote serializes as its name or bytecode. ``form`` reads it
from what the activation computes: on ``PROBE`` (float32 points in [-4, 4]) against Keras's own two forms, to within
``TOLERANCE`` (the forms part by up to 4.7e-4 there: tests). ``FORMS`` are its answers; a ``KerasEdit`` whose
``only`` is one of them changes the layers whose activation computes that form."""

from __future__ import annotations

from typing import Any

import numpy as np

GELU_TANH = "paritybench>gelu_tanh"
NAMES = (GELU_TANH,)
EXACT, TANH = "exact (erf)", "tanh approximation"
FORMS = (EXACT, TANH)
PROBE = np.linspace(-4.0, 4.0, 33, dtype=np.float32)
TOLERANCE = 1e-5  # float32 rounding of a GELU written another way (|gelu| <= 4 here), far below the forms' gap


def config(keras, name: str) -> dict[str, Any]:
    """The serialized activation ``name`` (one of ``NAMES``), registered with Keras first."""
    if name != GELU_TANH:
        raise ValueError(f"activation {name!r} is not one of {NAMES}")

    def gelu_tanh(x):
        return keras.activations.gelu(x, approximate=True)

    package, short = GELU_TANH.split(">")
    fn = keras.saving.register_keras_serializable(package=package, name=short)(gelu_tanh)
    return keras.saving.serialize_keras_object(fn)


def form(keras, fn) -> str | None:
    """Which GELU the activation ``fn`` computes (``EXACT`` or ``TANH``), None where it is neither (or fails on a
    vector: an activation that is no elementwise function)."""
    if not callable(fn):
        return None
    npy, x = keras.ops.convert_to_numpy, keras.ops.convert_to_tensor(PROBE)
    try:
        y = np.asarray(npy(fn(x)), np.float64)
    except Exception:  # an activation this probe cannot call: not a GELU it can tell
        return None
    if y.shape != PROBE.shape:
        return None
    for name, approximate in ((EXACT, False), (TANH, True)):
        own = np.asarray(npy(keras.activations.gelu(x, approximate=approximate)), np.float64)
        if np.max(np.abs(y - own)) <= TOLERANCE:
            return name
    return None
