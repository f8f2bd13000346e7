"""gpu-nondeterminism's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload gpu-nondeterminism --k 8``): on the CPU, i.e.
without atomics.
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
