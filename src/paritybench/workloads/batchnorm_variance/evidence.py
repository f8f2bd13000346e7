"""batchnorm-variance's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Training accuracy (the pitfall shows in evaluation mode, not here). Measured as ``kit.evidence`` says
(``sensitivity --workload batchnorm-variance --k 8``, every arm in one run); the torch arms with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-unbiased-var": same(0.926),
    "jax-keras-bn": same(0.926),
    "jax-keras-bn-clip": same(0.926),
    "jax-keras-bn-torch-clip": same(0.926),
    **each(("torch-bn", "torch-bn-biased"), same(0.926, k8=K8_TORCH)),
    "reference-f64": same(0.926),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.926)),
}
