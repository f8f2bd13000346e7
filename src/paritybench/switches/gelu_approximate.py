"""GELU's approximation: exact (erf; torch's and Keras's default) vs tanh (``jax.nn.gelu``'s default
``approximate=True``), read from the calls each forward pass makes (``switches.activation``). Demonstrated by
gelu-approximate (a catalogue workload added beside this switch).

A Keras arm's GELU is a layer's activation, and which form it computes is read by calling it
(``arms.keras_activations.form``, the ``layer <name> gelu`` rows): ``activation="gelu"`` is exact, while
``keras.ops.gelu`` (whose config reads ``"gelu"`` too) and ``keras.activations.gelu(x, approximate=True)`` are the
tanh form. Each layer that computes the other form than the other arm's is rebuilt (``keras_edits``, ``only`` the
form it computes): towards tanh with Keras's own gelu at ``approximate=True`` (Keras's config takes no keyword, so
the function is registered and given to the config serialized: ``arms.keras_activations``), towards exact with
``activation="gelu"``."""

from __future__ import annotations

from dataclasses import replace

from paritybench.arms import keras_activations
from paritybench.switches import keras_edits
from paritybench.switches.activation import Keyword, activation_switch, theirs
from paritybench.switches.base import Refusal, Target
from paritybench.workloads.base import Arm, KerasEdit

GELU = Keyword(
    fn="gelu",
    jax_kw="approximate",
    jax_default=True,
    torch_kw="approximate",
    torch_default="none",
    jax_common=lambda v: "tanh" if v else "exact",
    torch_common=lambda v: "tanh" if v == "tanh" else "exact",
    jax_from=lambda c: c == "tanh",
    torch_from=lambda c: "tanh" if c == "tanh" else "none",
)


def _keras(arm: Arm, t: Target) -> Arm:
    """Every layer whose activation computes the other form rebuilt with the other arm's: the tanh form Keras's
    gelu at ``approximate=True`` (registered: ``keras_activations``), the exact one ``activation="gelu"``."""
    other = theirs(GELU, t)
    mine = keras_edits.layer_values(t, "gelu")  # layer -> the form it computes (keras_activations.form)
    want, value = (
        (keras_activations.TANH, keras_activations.GELU_TANH) if other == "tanh" else (keras_activations.EXACT, "gelu")
    )
    if t.rows_self and not mine:
        raise Refusal(f"{arm.name}'s Keras model has no layer whose activation computes a GELU")
    if mine and all(v == want for v in mine.values()):
        raise Refusal(f"nothing to change: {arm.name}'s GELU layers compute the {want}, as {t.other.name}'s GELU")
    have = keras_activations.EXACT if want == keras_activations.TANH else keras_activations.TANH
    edit = KerasEdit("layer", "Layer", "activation", value, only=have)
    return replace(arm, keras_edits=(*arm.keras_edits, edit))


_SWITCH = activation_switch(
    GELU,
    "gelu approximation",
    "GELU exact (erf) vs its tanh approximation",
    ("activation", "gelu", "approximate"),
    "gelu-approximate",
)
SWITCH = replace(_SWITCH, appliers={**_SWITCH.appliers, "keras": _keras}, refusals={})
