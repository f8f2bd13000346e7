"""fit-shuffle's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement)."""

from __future__ import annotations

MEASURED: dict[str, tuple[str, str]] = {}
