"""same-padding's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured with ``paritybench sensitivity --workload same-padding --k 8`` (seed 0, window 0, one-ulp copies,
rel 1e-7) on the 2-core CPU machine, the Keras arms by their worker processes (every copy on its own
weights), the torch arms with torch 2.15.
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
