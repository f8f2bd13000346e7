"""label-shape's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload label-shape --k 8``).
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64, each, same

MEASURED = {
    "jax-broadcast": same(0.528),
    "jax-reshape": same(0.773),
    "jax-keras-clip": same(0.773),
    "jax-keras-torch-clip": same(0.773),
    "reference-f64": same(0.773, F64),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.773)),
}
