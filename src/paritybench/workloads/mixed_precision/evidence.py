"""mixed-precision's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Not yet measured with ``sensitivity --k 8``: every arm keeps the declaration's default ("stable").
"""

from __future__ import annotations

MEASURED: dict[str, tuple[str, str]] = {}
