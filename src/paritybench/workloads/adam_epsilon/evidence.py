"""adam-epsilon's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured with ``paritybench sensitivity --workload adam-epsilon --k 8`` (seed 0, window 0, one-ulp copies, rel
1e-7) on the 2-core CPU machine, the Keras arms by their worker processes (every copy on its own weights), the
torch arm with torch 2.15.
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
