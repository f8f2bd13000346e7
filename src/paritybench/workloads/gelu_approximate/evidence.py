"""gelu-approximate's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload gelu-approximate --k 8``, every arm, 2 min 35 s on the
shared 2-core CPU); the torch arms with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    **each(("jax-gelu-literal", "jax-gelu-exact", "jax-gelu-exact-clip", "jax-gelu-exact-torch-clip"), same(0.648)),
    **each(("torch-gelu", "torch-gelu-tanh"), same(0.648, k8=K8_TORCH)),
    **each(("keras-tensorflow", "keras-jax", "keras-torch", "keras-tensorflow-gelu-tanh"), same(0.648)),
    "reference-f64": same(0.648),
}
