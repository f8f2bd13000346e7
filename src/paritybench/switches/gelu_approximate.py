"""GELU's approximation: exact (erf; torch's and Keras's default) vs tanh (``jax.nn.gelu``'s default
``approximate=True``), read from the calls each forward pass makes (``switches.activation``). Demonstrated by
gelu-approximate (a catalogue workload added beside this switch).

A Keras arm's GELU is a layer's ``activation="gelu"``: ``keras.activations.gelu(x, approximate=False)``, exact. Against
an arm whose GELU is the tanh form, every layer whose activation is ``"gelu"`` is rebuilt with Keras's own gelu at
``approximate=True`` (``keras_edits``, ``only="gelu"``; ``arms.keras_activations``: Keras's config takes no
keyword, so the function is registered and given to the config serialized). A Keras arm's GELU is never switched
to the exact form here (its layers' rows show the registered function, not a setting)."""

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
    other = theirs(GELU, t)
    if other != "tanh":
        raise Refusal(f"nothing to change: {t.other.name}'s GELU is exact, as a Keras layer's activation='gelu'")
    if t.rows_self and "gelu" not in keras_edits.layer_values(t, "activation").values():
        raise Refusal(f"{arm.name}'s Keras model has no layer with activation 'gelu'")
    edit = KerasEdit("layer", "Layer", "activation", keras_activations.GELU_TANH, only="gelu")
    return replace(arm, keras_edits=(*arm.keras_edits, edit))


_SWITCH = activation_switch(
    GELU,
    "gelu approximation",
    "GELU exact (erf) vs its tanh approximation",
    ("activation", "gelu", "approximate"),
    "gelu-approximate",
)
SWITCH = replace(_SWITCH, appliers={**_SWITCH.appliers, "keras": _keras}, refusals={})
