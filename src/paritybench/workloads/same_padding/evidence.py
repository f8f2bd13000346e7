"""same-padding's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload same-padding --k 8``); the torch arms with torch
2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64, K8_TORCH, each, same

MEASURED = {
    "jax-torch-pad": same(0.780),
    "jax-same": same(0.784),
    "jax-same-keras-clip": same(0.784),
    "jax-same-keras-torch-clip": same(0.784),
    "torch-conv-pad1": same(0.780, k8=K8_TORCH),
    "torch-same-pad": same(0.784, k8=K8_TORCH),
    "reference-f64": same(0.784, F64),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.784)),
}
