"""The arm constructors and the evidence overlay: how a workload declares its arms in a line or two each.

Every constructor returns a plain ``Arm`` (``workloads.base``); the names it spells are the conventions
paritybench reads (``keras-<backend>`` for a Keras arm in that backend's worker, ``torch:<loss>`` for a torch
arm's loss), never a workload's. A reference is written ``"module:function"``; ``module`` arguments are
dotted module paths the constructors join with the function's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from paritybench.workloads.base import Arm, Model, Workload

JAX = ("jax",)
JAX_OPTAX = ("jax", "optax")
BACKENDS = ("tensorflow", "jax", "torch")
# The "loss path" of Keras-JAX's and Keras-torch's categorical CE (``Folder.ce_fix_emulations``): probabilities
# clipped (JAX) and clamped (torch), and the same said of softmax probabilities renormalised first.
CE_CLIPPED = ("clipped probabilities", "clamped probabilities (torch)")
CE_RENORMALISED = ("softmax probabilities renormalised, clipped", "softmax probabilities renormalised, clamped (torch)")


def _ref(module: str, name: str | None) -> str | None:
    return f"{module}:{name}" if name else None


def jax_arm(
    name: str,
    description: str,
    loss: str,
    module: str,
    *,
    optimizer: str | None = None,
    requires: tuple[str, ...] = JAX_OPTAX,
    **kw: Any,
) -> Arm:
    """A JAX arm: its per-sample loss ``module:loss`` (``loss`` is also the short name every run records) and
    its optimizer ``module:optimizer`` (None: plain SGD written out)."""
    return Arm(
        name,
        description,
        "jax",
        loss,
        loss_fn=_ref(module, loss),
        optimizer=_ref(module, optimizer),
        requires=requires,
        **kw,
    )


def keras_arm(backend: str, why: str, keras_loss: str, *, setting: str = "", name: str | None = None, **kw) -> Arm:
    """``Arm.keras``: a Keras 3 ``fit`` arm in ``backend``'s worker (the public constructor, kept in base)."""
    return Arm.keras(backend, why, keras_loss, setting=setting, name=name, **kw)


def keras_arms(keras_loss: str, why: Mapping[str, str], **kw: Any) -> tuple[Arm, ...]:
    """One ``keras_arm`` per backend named in ``why`` (backend -> why, in that order), sharing ``kw``."""
    return tuple(keras_arm(backend, text, keras_loss, **kw) for backend, text in why.items())


def torch_arm(name: str, description: str, loss: str, module: str, *, optimizer: str | None = None, **kw: Any) -> Arm:
    """A native torch arm: its mean loss ``module:loss`` (recorded as ``torch:<loss>``) and its optimizer
    ``module:optimizer`` (None: ``torch.optim.SGD(lr)``)."""
    return Arm(
        name,
        description,
        "torch",
        f"torch:{loss}",
        torch_loss=_ref(module, loss),
        torch_optimizer=_ref(module, optimizer),
        requires=("torch",),
        **kw,
    )


def reference_f64(
    description: str,
    loss_fn: str,
    *,
    requires: tuple[str, ...] = JAX_OPTAX,
    name: str = Workload.reference,  # the name a Workload looks for by default, declared once in base
    **kw: Any,
) -> Arm:
    """The float64 arbiter: ``loss_fn`` differentiated in float64 (or the model's hand-written
    ``f64_loss_and_grad``); the workload's ``reference``."""
    return Arm(name, description, "f64", "logits_f64", loss_fn=loss_fn, requires=requires, role="reference", **kw)


def keras_emulations(
    module: str,
    clip: tuple[str, str, Mapping[str, Any]],
    torch_clip: tuple[str, str, Mapping[str, Any]],
    **kw: Any,
) -> tuple[Arm, ...]:
    """The JAX twins of Keras-JAX's and Keras-torch's update, each given as (name, description, conventions):
    ``module:keras_clip`` (Keras's probability path on the JAX backend: p clipped to [1e-7, 1-1e-7]) emulates
    ``keras-jax``; ``module:keras_torch_clip`` (the same with torch's clip and loss gradients) emulates
    ``keras-torch``. ``kw`` (an optimizer, a forward pass, ``requires``) goes to both."""
    return tuple(
        jax_arm(name, description, loss, module, role="emulation", emulates=emulates, conventions=conventions, **kw)
        for (name, description, conventions), loss, emulates in (
            (clip, "keras_clip", "keras-jax"),
            (torch_clip, "keras_torch_clip", "keras-torch"),
        )
    )


def bce_keras_emulations(stem: str, setting: str, module: str, conventions: Mapping[str, Any]) -> tuple[Arm, ...]:
    """``keras_emulations`` for a sigmoid BCE at the workload's ``setting``: ``jax-<stem>-keras-clip`` and
    ``jax-<stem>-keras-torch-clip``."""
    return keras_emulations(
        module,
        (
            f"jax-{stem}-keras-clip",
            f"Keras-JAX in JAX: {setting}, BCE on p clipped to [1e-7, 1-1e-7]",
            {**conventions, "loss path": "sigmoid probabilities clipped"},
        ),
        (
            f"jax-{stem}-keras-torch-clip",
            f"Keras-torch in JAX: {setting}, torch's clipped BCE",
            {**conventions, "loss path": "sigmoid probabilities clamped"},
        ),
    )


def folder_model(package: str, params: Mapping[str, tuple[int, ...]], head: str, **fields: Any) -> Model:
    """A ``Model`` laid out as the built-in folders are: ``init`` and ``jax_apply`` in ``<package>.jax_model``
    (``init``, ``apply``), ``keras_build`` in ``<package>.keras_model`` (``build``); ``fields`` add to or
    replace them (``jax_layers``, ``torch_apply``, ``state``, ...)."""
    conventional = {
        "init": f"{package}.jax_model:init",
        "jax_apply": f"{package}.jax_model:apply",
        "keras_build": f"{package}.keras_model:build",
    }
    return Model(params=params, head=head, **{**conventional, **fields})


def with_evidence(arms: tuple[Arm, ...], measured: Mapping[str, tuple[str, str]]) -> tuple[Arm, ...]:
    """``arms`` with ``expected`` and ``evidence`` set from ``measured`` (arm -> (class, evidence)), the
    workload's own ``evidence.MEASURED``; an arm it does not name keeps its declaration's. A name that is
    not one of ``arms`` is refused, so a renamed arm cannot keep stale evidence."""
    unknown = set(measured) - {a.name for a in arms}
    if unknown:
        raise ValueError(f"evidence for arms that are not declared: {', '.join(sorted(unknown))}")
    return tuple(
        replace(a, expected=measured[a.name][0], evidence=measured[a.name][1]) if a.name in measured else a
        for a in arms
    )
