"""Leaky ReLU's negative slope: 0.01 (``jax.nn.leaky_relu``'s and torch's default) vs 0.3 (Keras's
``LeakyReLU``), read from the calls each forward pass makes (``switches.activation``). Demonstrated by
leaky-relu-slope (a catalogue workload added beside this switch). A Keras arm's ``LeakyReLU`` layers are rebuilt
with the other arm's slope; a ``Dense(activation="leaky_relu")`` (0.2, ``keras.activations.leaky_relu``'s default)
has no slope in its config and is refused."""

from __future__ import annotations

from paritybench.switches.activation import Keyword, activation_switch

SLOPE = Keyword(
    fn="leaky_relu",
    jax_kw="negative_slope",
    jax_default=0.01,
    torch_kw="negative_slope",
    torch_default=0.01,
    jax_common=float,
    torch_common=float,
    jax_from=float,
    torch_from=float,
    keras_layer="LeakyReLU",
    keras_key="negative_slope",
    keras_from=float,
)

SWITCH = activation_switch(
    SLOPE,
    "leaky relu slope",
    "leaky ReLU's negative slope",
    ("activation", "negative_slope", "leaky relu slope"),
    "leaky-relu-slope",
)
