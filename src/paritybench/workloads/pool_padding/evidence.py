"""pool-padding's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload pool-padding --k 8``, every arm, 322 s on the shared
2-core machine); the torch arms with torch 2.15. The one-ulp copies' final weights spread furthest for
``keras-torch`` (6.6e-5 from copy 0) and the (1, 1)-padded ports (7e-6, 2.7e-6), without moving an accuracy.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64, K8_TORCH, each, same

MEASURED = {
    "jax-pool-include-pad": same(0.768),
    "jax-pool-torch-pad": same(0.745),
    "jax-pool-exclude-pad": same(0.755),
    "jax-pool-exclude-pad-keras-clip": same(0.755),
    "jax-pool-replicate-keras-torch-clip": same(0.757),
    "torch-avgpool-pad1": same(0.745, k8=K8_TORCH),
    "torch-avgpool-exclude": same(0.755, k8=K8_TORCH),
    "reference-f64": same(0.755, F64),
    **each(("keras-tensorflow", "keras-jax"), same(0.755)),
    "keras-torch": same(0.757),
}
