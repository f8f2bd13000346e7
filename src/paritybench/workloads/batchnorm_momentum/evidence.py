"""batchnorm-momentum's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Training accuracy (the pitfall shows in evaluation mode, not here). Measured as ``kit.evidence`` says
(``sensitivity --workload batchnorm-momentum --k 8``); the torch arm with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-momentum-literal": same(0.910),
    "jax-torch-bn": same(0.910),
    "jax-keras-bn": same(0.910),
    "jax-keras-bn-clip": same(0.910),
    "jax-keras-bn-torch-clip": same(0.910),
    "torch-bn": ("stable", f"0.910 on all 8 one-ulp copies {K8_TORCH}, training accuracy"),
    "reference-f64": same(0.910),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.910)),
}
