"""The multi-layer perceptron declared once: its parameter names and shapes (no framework), plain and with one
BatchNormalization; and the one-hidden-layer forward pass written with ``@`` and ``+`` alone, so that the same
function runs on JAX arrays and torch tensors (``hidden_layers``, ``hidden_logits``, ``hidden_variant``)."""

from __future__ import annotations


def dense_params(sizes: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    """``dense_i/kernel`` (in, out) and ``dense_i/bias`` (out,) for each consecutive pair of ``sizes``, in
    forward order: the names every framework's MLP in the kit reads (``Model.params``)."""
    out: dict[str, tuple[int, ...]] = {}
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
        out[f"dense_{i}/kernel"] = (a, b)
        out[f"dense_{i}/bias"] = (b,)
    return out


def bn_params(inputs: int, hidden: int, classes: int) -> dict[str, tuple[int, ...]]:
    """The MLP ``inputs``-``hidden``-BatchNormalization-ReLU-``classes``: ``dense_0``, ``bn/gamma`` and ``bn/beta``,
    ``dense_1``, in forward order (``kit.init.glorot_uniform`` draws the kernels in it)."""
    return {
        "dense_0/kernel": (inputs, hidden),
        "dense_0/bias": (hidden,),
        "bn/gamma": (hidden,),
        "bn/beta": (hidden,),
        "dense_1/kernel": (hidden, classes),
        "dense_1/bias": (classes,),
    }


def bn_state(hidden: int) -> tuple[dict[str, tuple[int, ...]], dict[str, float]]:
    """Its moving statistics (``Model.state``) and their initial values (``Model.state_init``): Keras's
    ``moving_mean_initializer`` "zeros", ``moving_variance_initializer`` "ones"."""
    return (
        {"bn/moving_mean": (hidden,), "bn/moving_variance": (hidden,)},
        {"bn/moving_mean": 0.0, "bn/moving_variance": 1.0},
    )


def hidden_layers(params, x, act, name: str) -> dict:
    """One hidden layer's named outputs (``Model.jax_layers`` / ``torch_layers``): its pre-activation
    ``dense_0`` and ``dense_0/<name>``, ``act`` of it (Keras's ``Dense(activation=...)`` or activation layer's
    output). Arrays of any framework: ``x @ kernel + bias``."""
    pre = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    return {"dense_0": pre, f"dense_0/{name}": act(pre)}


def hidden_logits(params, x, act, name: str):
    """The logits of the one-hidden-layer MLP: ``hidden_layers``'s ``dense_0/<name>`` through ``dense_1``."""
    return hidden_layers(params, x, act, name)[f"dense_0/{name}"] @ params["dense_1/kernel"] + params["dense_1/bias"]


def hidden_variant(act, name: str):
    """``(apply, layers)``: ``hidden_logits`` and ``hidden_layers`` with the activation ``act`` named ``name``,
    a workload's forward pass and its layer outputs for one variant of its activation (``Model.jax_apply`` and
    ``jax_layers``, or the torch twins)."""

    def apply(params, x):
        return hidden_logits(params, x, act, name)

    def layers(params, x) -> dict:
        return hidden_layers(params, x, act, name)

    return apply, layers
