"""adam-epsilon's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload adam-epsilon --k 8``); the torch arm with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-adam-literal": same(0.644),
    "jax-keras-adam": same(0.642),
    "jax-adam-eps-scaled": same(0.642),
    "jax-keras-adam-clip": same(0.642),
    "jax-keras-adam-torch-clip": same(0.642),
    "torch-adam": same(0.644, k8=K8_TORCH),
    "reference-f64": same(0.642),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.642)),
}
