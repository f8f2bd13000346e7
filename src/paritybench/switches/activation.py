"""Activation settings as switches: one keyword of one activation function, read by recording the calls an
arm's forward pass makes (``jax.nn.<fn>`` for a JAX or f64 arm, ``torch.nn.functional.<fn>`` for a torch arm:
``torch.nn.GELU`` and ``LeakyReLU`` call it too) while it runs on a few training rows, and switched by running
the arm's forward pass with that function's keyword set to the other arm's value. A function the forward pass's
module or closure bound before (``from jax.nn import gelu``, ``partial(jax.nn.leaky_relu, negative_slope=0.3)``
at import) is replaced there too, for the run; one bound deeper (in another module) is not seen, and the switch
is then refused, saying so.

A Keras arm's setting is a layer's config key (``Keyword.keras_layer``: ``LeakyReLU``'s ``negative_slope``), its
layers rebuilt with the other arm's value (``switches.keras_edits``).

``ActivationSwitch`` builds the ``Switch``; ``gelu_approximate.py`` and ``leaky_relu_slope.py`` declare one each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from paritybench.switches import keras_edits
from paritybench.switches.base import Refusal, Switch, Target, patched, probe_inputs
from paritybench.workloads.base import Arm, resolve_ref


@dataclass(frozen=True)
class Keyword:
    """``fn``'s keyword ``jax_kw`` in ``jax.nn`` and ``torch_kw`` in ``torch.nn.functional``, with their
    defaults, and how each framework's value reads in one vocabulary (``common``: e.g. "tanh" / "exact")."""

    fn: str
    jax_kw: str
    jax_default: Any
    torch_kw: str
    torch_default: Any
    jax_common: Callable[[Any], Any]
    torch_common: Callable[[Any], Any]
    jax_from: Callable[[Any], Any]
    torch_from: Callable[[Any], Any]
    # a Keras arm: the layer class and its config key that hold the setting (None: no layer holds it), and how a
    # value of the common vocabulary reads there
    keras_layer: str | None = None
    keras_key: str = ""
    keras_from: Callable[[Any], Any] = float
    keras_refusal: str = ""


def _module(framework: str):
    if framework == "torch":
        import torch.nn.functional as F  # late: a framework: loads after the numerics flags

        return F
    import jax  # late: a framework: loads after the numerics flags

    return jax.nn


def _framework(arm: Arm, kind: str) -> str:
    return "torch" if kind == "torch" else "jax"


def _apply_ref(arm: Arm, kind: str, t: Target):
    if kind == "torch":
        return arm.torch_apply or t.workload.model.torch_apply
    return arm.jax_apply or t.workload.model.jax_apply


def _run(framework: str, apply, t: Target) -> None:
    p, xs, st = probe_inputs(framework, t)
    if t.state:
        apply(p, xs, state=st, training=True)
    else:
        apply(p, xs)


def read(kw: Keyword, arm: Arm, kind: str, t: Target) -> list:
    """The values (common vocabulary) of ``kw`` in every call of its function that ``arm``'s forward pass makes."""
    framework = _framework(arm, kind)
    ref = _apply_ref(arm, kind, t)
    if ref is None:
        raise Refusal(f"{arm.name} has no forward pass this process can run")
    module = _module(framework)
    own = getattr(module, kw.fn)
    name, default = (kw.torch_kw, kw.torch_default) if framework == "torch" else (kw.jax_kw, kw.jax_default)
    common = kw.torch_common if framework == "torch" else kw.jax_common
    seen: list = []

    def recorder(*args, **kwargs):
        seen.append(common(kwargs.get(name, args[1] if len(args) > 1 else default)))
        return own(*args, **kwargs)

    apply = resolve_ref(ref)
    with patched(module, kw.fn, recorder, apply):
        _run(framework, apply, t)
    return seen


def switch(kw: Keyword, arm: Arm, kind: str, t: Target, other_kind: str) -> Arm:
    mine = read(kw, arm, kind, t)
    if not mine:
        raise Refusal(f"{arm.name}'s forward pass calls no {kw.fn} (or bound it before it could be read)")
    if other_kind not in ("jax", "f64", "torch"):
        raise Refusal(f"{t.other.name}'s forward pass runs in a worker: its {kw.fn} cannot be read here")
    theirs = read(kw, t.other, other_kind, t)
    if not theirs:
        raise Refusal(f"{t.other.name}'s forward pass calls no {kw.fn}")
    if len(set(theirs)) > 1:
        raise Refusal(f"{t.other.name} calls {kw.fn} with several settings ({sorted(set(map(str, theirs)))})")
    if set(mine) == set(theirs):
        raise Refusal(f"nothing to change: both call {kw.fn} with {theirs[0]}")
    target = theirs[0]
    framework = _framework(arm, kind)
    module = _module(framework)
    name = kw.torch_kw if framework == "torch" else kw.jax_kw
    value = kw.torch_from(target) if framework == "torch" else kw.jax_from(target)
    own_apply = resolve_ref(_apply_ref(arm, kind, t))

    def switched(*args, **kwargs):
        own = getattr(module, kw.fn)

        def fixed(x, *a, **k):
            k.pop(name, None)
            return own(x, **{name: value}, **k) if not a else own(x, value, *a[1:], **k)

        with patched(module, kw.fn, fixed, own_apply):
            return own_apply(*args, **kwargs)

    switched.__qualname__ = f"{kw.fn}[{kw.jax_kw}={target}]"
    if framework == "torch":
        return replace(arm, torch_apply=switched, torch_layers=None)
    return replace(arm, jax_apply=switched, jax_layers=None)


def theirs(kw: Keyword, t: Target) -> Any:
    """The one value (common vocabulary) of ``kw`` in the other arm's calls of its function."""
    other_kind = t.other_kind()
    if other_kind not in ("jax", "f64", "torch"):
        raise Refusal(f"{t.other.name}'s forward pass runs in a worker: its {kw.fn} cannot be read here")
    values = read(kw, t.other, other_kind, t)
    if not values:
        raise Refusal(f"{t.other.name}'s forward pass calls no {kw.fn}")
    if len(set(values)) > 1:
        raise Refusal(f"{t.other.name} calls {kw.fn} with several settings ({sorted(set(map(str, values)))})")
    return values[0]


def keras(kw: Keyword, arm: Arm, t: Target) -> Arm:
    """A Keras arm's ``kw.keras_layer`` layers rebuilt with the other arm's value (``switches.keras_edits``)."""
    value = kw.keras_from(theirs(kw, t))
    return keras_edits.layer(arm, t, str(kw.keras_layer), kw.keras_key, value, f"{kw.keras_layer} {kw.keras_key}")


def activation_switch(kw: Keyword, name: str, description: str, rows: tuple[str, ...], demonstrated_by: str) -> Switch:
    """The ``Switch`` for ``kw``: JAX, f64 and torch arms; a Keras arm where a layer holds the setting
    (``Keyword.keras_layer``; otherwise refused with ``Keyword.keras_refusal``)."""

    def applier(kind: str):
        def apply(arm: Arm, t: Target) -> Arm:
            if kind == "keras":
                return keras(kw, arm, t)
            return switch(kw, arm, kind, t, t.other_kind())

        return apply

    return Switch(
        name=name,
        family="layer arithmetic",
        description=description,
        rows=rows,
        demonstrated_by=demonstrated_by,
        appliers={k: applier(k) for k in ("jax", "f64", "torch", *(("keras",) if kw.keras_layer else ()))},
        refusals={} if kw.keras_layer else {"keras": kw.keras_refusal},
    )
