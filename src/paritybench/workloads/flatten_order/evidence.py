"""flatten-order's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload flatten-order --k 8``, every arm, 169 s on the
shared 2-core machine); the torch arms with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64, K8_TORCH, each, same

MEASURED = {
    "jax-flatten-chw": same(0.798),
    "jax-flatten-hwc": same(0.777),
    "jax-flatten-hwc-keras-clip": same(0.777),
    "jax-flatten-hwc-keras-torch-clip": same(0.777),
    "torch-linear-literal": same(0.798, k8=K8_TORCH),
    "torch-linear-permuted": same(0.777, k8=K8_TORCH),
    "reference-f64": same(0.777, F64),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.777)),
}
