"""leaky-relu-slope's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload leaky-relu-slope --k 8``, every arm, 3 min 44 s on the
shared 2-core CPU); the torch arms with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-leaky-literal": same(0.668),
    **each(("jax-leaky-keras", "jax-leaky-keras-clip", "jax-leaky-keras-torch-clip"), same(0.680)),
    "jax-leaky-activation": same(0.675),
    "torch-leaky-relu": same(0.668, k8=K8_TORCH),
    "torch-leaky-relu-keras": same(0.680, k8=K8_TORCH),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.680)),
    "keras-tensorflow-activation": same(0.675),
    "keras-tensorflow-slope-port": same(0.668),
    "reference-f64": same(0.680),
}
