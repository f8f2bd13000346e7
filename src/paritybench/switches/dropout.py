"""Dropout settings as switches, read from the draws an arm's forward pass makes and switched in them.

Every framework's dropout is inverted dropout: a mask drawn with keep probability ``q`` and the kept values
scaled by ``1/q`` (read in the installed source: ``jax/example_libraries/stax.py`` ``Dropout``:
``keep = random.bernoulli(rng, rate, inputs.shape); jnp.where(keep, inputs / rate, 0)``, so stax's ``rate`` is
the KEEP probability; flax's ``Dropout``: ``random.bernoulli(rng, p=keep_prob, ...)`` then
``lax.select(mask, inputs / keep_prob, 0)``; Keras-JAX's ``dropout``: ``jax.random.bernoulli(seed, p=1 - rate)``
then ``lax.select``; torch's ``F.dropout(input, p, training)``: ``p`` the DROP probability). So a JAX or f64 arm's
dropout is read by recording the ``jax.random.bernoulli`` calls its forward pass makes on a few training rows (the
keep probability is their ``p``) and a torch arm's by recording ``torch.nn.functional.dropout``'s (keep ``1 - p``
where ``training`` is true; ``nn.Dropout`` calls it), in training mode or in evaluation mode.

A JAX arm's dropout is switched inside its own draws: ``jax.random.bernoulli`` draws with the other arm's keep
probability ``q'`` (from the same key, in the dtype of the arm's own ``p``: the other arm's very mask where both
key alike) and the ``jnp.where`` / ``lax.select`` that takes that mask scales its kept values by ``q / q'``, so
they are ``x / q'``; to switch dropout off, the mask is all ones and the kept values are scaled by ``q`` (the
identity). A forward pass that applies its mask otherwise (``mask * x``) is refused: nothing is switched there.
A torch arm's ``F.dropout`` takes the other's drop probability ``1 - q'`` (or ``training=False``).
``dropout_rate.py`` and ``dropout_at_eval.py`` declare one switch each."""

from __future__ import annotations

import contextlib
from dataclasses import replace
from typing import Any

import numpy as np

from paritybench.switches.base import Refusal, Target, patched, probe_inputs
from paritybench.workloads.base import Arm, resolve_ref

OFF = "off"


def _apply_ref(arm: Arm, kind: str, t: Target):
    if kind == "torch":
        return arm.torch_apply or t.workload.model.torch_apply
    return arm.jax_apply or t.workload.model.jax_apply


def _framework(kind: str) -> str:
    return "torch" if kind == "torch" else "jax"


def _run(framework: str, apply, t: Target, training: bool) -> None:
    """``apply`` on the first 8 rows, in training or evaluation mode (a forward pass with no model state has no
    evaluation mode: refused there)."""
    if not t.state and not training:
        raise Refusal("the forward pass takes no model state: it has no evaluation mode to read")
    p, xs, st = probe_inputs(framework, t)
    if t.state:
        apply(p, xs, st, training)
    else:
        apply(p, xs)


class _Draws:
    """The dropout draws of one forward pass: ``jax.random.bernoulli`` (and the ``where`` / ``select`` that takes
    its mask) or torch's ``F.dropout``, recorded and, where ``keep`` is set, switched: ``keep`` a keep
    probability, or ``OFF`` for no dropout."""

    def __init__(self, framework: str, keep: float | str | None = None) -> None:
        self.framework, self.keep = framework, keep
        self.seen: list[float] = []  # the keep probability of each draw
        self.masks: list[tuple[Any, Any]] = []  # (the mask handed out, the scale its kept values take)
        self.applied = 0  # masks taken by a where / select

    def _jax(self):
        import jax  # late: a framework: loads after the numerics flags
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags

        bern, where, select = jax.random.bernoulli, jnp.where, jax.lax.select

        def bernoulli(key, p=0.5, shape=None, *args, **kwargs):
            self.seen.append(float("nan") if isinstance(p, jax.core.Tracer) else float(np.asarray(p)))
            if self.keep is None:
                return bern(key, p, shape, *args, **kwargs)
            dtype = jnp.asarray(p).dtype
            if self.keep == OFF:
                mask = jnp.ones(shape if shape is not None else jnp.shape(p), bool)
                scale = jnp.asarray(p, dtype)
            else:
                mask = bern(key, jnp.asarray(self.keep, dtype), shape, *args, **kwargs)
                scale = jnp.asarray(p, dtype) / jnp.asarray(self.keep, dtype)
            self.masks.append((mask, scale))
            return mask

        def scaled(cond, x):
            for mask, scale in self.masks:
                if cond is mask:
                    self.applied += 1
                    return x * scale.astype(jnp.result_type(x))
            return x

        def where_(cond, x=None, y=None, **kwargs):
            if x is None:
                return where(cond, **kwargs)
            return where(cond, scaled(cond, x), y, **kwargs)

        def select_(pred, on_true, on_false):
            return select(pred, scaled(pred, on_true), on_false)

        return (jax.random, "bernoulli", bernoulli), (jnp, "where", where_), (jax.lax, "select", select_)

    def _torch(self):
        import torch.nn.functional as F  # late: a framework: loads after the numerics flags

        own = F.dropout

        def dropout(input, p=0.5, training=True, inplace=False):
            if training:
                self.seen.append(1.0 - float(p))
            if self.keep is None or not training:
                return own(input, p, training, inplace)
            self.applied += 1
            if self.keep == OFF:
                return own(input, p, False, inplace)
            return own(input, 1.0 - float(self.keep), True, inplace)

        return ((F, "dropout", dropout),)

    def patches(self):
        return self._torch() if self.framework == "torch" else self._jax()


def _patched(draws: _Draws, apply) -> contextlib.ExitStack:
    stack = contextlib.ExitStack()
    for module, name, fn in draws.patches():
        stack.enter_context(patched(module, name, fn, apply))
    return stack


def read(arm: Arm, kind: str, t: Target, training: bool) -> list[float]:
    """The keep probability of every dropout draw ``arm``'s forward pass makes on a few rows, in training or
    evaluation mode (empty: it drops nothing there)."""
    ref = _apply_ref(arm, kind, t)
    if ref is None:
        raise Refusal(f"{arm.name} has no forward pass this process can run")
    apply = resolve_ref(ref)
    draws = _Draws(_framework(kind))
    with _patched(draws, apply):
        _run(draws.framework, apply, t, training)
    return draws.seen


def switched(arm: Arm, kind: str, t: Target, keep: float | str, mode: bool | None) -> Arm:
    """``arm`` with its dropout draws switched to ``keep`` (a keep probability or ``OFF``) in ``mode`` (True:
    training calls, False: evaluation calls, None: both); a forward pass whose mask is not taken by a
    ``where`` / ``select`` it is switched in is refused, after a trial run on the probe rows."""
    framework = _framework(kind)
    own_apply = resolve_ref(_apply_ref(arm, kind, t))

    def run(*args, **kwargs):
        training = kwargs.get("training", args[3] if len(args) > 3 else True)
        if mode is not None and bool(training) != mode:
            return own_apply(*args, **kwargs)
        draws = _Draws(framework, keep)
        with _patched(draws, own_apply):
            out = own_apply(*args, **kwargs)
        if draws.masks and draws.applied < len(draws.masks):
            raise Refusal(
                f"{arm.name}'s forward pass applies its dropout mask other than by jnp.where / lax.select: "
                "its kept values cannot be rescaled here"
            )
        return out

    run.__qualname__ = f"dropout[keep={keep}{'' if mode is None else ', training' if mode else ', evaluation'}]"
    _run(framework, run, t, mode is not False)  # the trial: refused here, before anything trains
    if framework == "torch":
        return replace(arm, torch_apply=run, torch_layers=None)
    return replace(arm, jax_apply=run, jax_layers=None)
