"""gpu-nondeterminism's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured with ``paritybench sensitivity --workload gpu-nondeterminism --k 8`` (seed 0, window 0, one-ulp
copies, rel 1e-7) on the 2-core CPU machine, i.e. without atomics; the Keras arms by their worker processes
(every copy on its own weights).
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64, each, same

MEASURED = {
    "jax-onehot": same(0.538),
    "jax-onehot-keras-clip": same(0.538),
    "jax-onehot-keras-torch-clip": same(0.538),
    "reference-f64": same(0.538, F64),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.538)),
}
