"""The arm registry: every arm, by its interface name, in display order."""

from __future__ import annotations

from ..arms_names import ARM_NAMES as _DECLARED
from ..errors import ParityError
from . import jax_arms, keras_arms, reference
from .base import ArmResult, ArmSpec, TrainSpec

REGISTRY: dict[str, ArmSpec] = {a.name: a for a in (*jax_arms.ARMS, *keras_arms.ARMS, *reference.ARMS)}
ARM_NAMES: tuple[str, ...] = tuple(REGISTRY)
if ARM_NAMES != _DECLARED:  # the CLI checks names against the declared list before import
    raise RuntimeError(f"arm registry {ARM_NAMES} differs from arms_names {_DECLARED}")

# Forward passes used for the seed's weight swap, run in the harness's process.
MAIN_EVALUATORS = {"jax": jax_arms.evaluate_correct, "reference-f64": reference.evaluate_correct}


def resolve(names: list[str] | tuple[str, ...] | None) -> tuple[ArmSpec, ...]:
    """Specs for the named arms (every arm when None), in registry order."""
    if not names:
        return tuple(REGISTRY.values())
    unknown = [n for n in names if n not in REGISTRY]
    if unknown:
        raise ParityError(f"unknown arm {', '.join(unknown)}: valid arms are {', '.join(ARM_NAMES)}")
    return tuple(spec for name, spec in REGISTRY.items() if name in names)


__all__ = ["ARM_NAMES", "REGISTRY", "ArmResult", "ArmSpec", "TrainSpec", "resolve", "MAIN_EVALUATORS"]
