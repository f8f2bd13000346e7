"""GELU's approximation: exact (erf; torch's and Keras's default) vs tanh (``jax.nn.gelu``'s default
``approximate=True``), read from the calls each forward pass makes (``switches.activation``). Demonstrated by
gelu-approximate (a catalogue workload added beside this switch)."""

from __future__ import annotations

from paritybench.switches.activation import Keyword, activation_switch

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
    keras_refusal='a Keras layer\'s GELU is its activation, named "gelu" in its config (keras.activations.gelu, '
    "approximate=False); the tanh form is a function of the user's own, not a config setting",
)

SWITCH = activation_switch(
    GELU,
    "gelu approximation",
    "GELU exact (erf) vs its tanh approximation",
    ("activation", "gelu", "approximate"),
    "gelu-approximate",
)
