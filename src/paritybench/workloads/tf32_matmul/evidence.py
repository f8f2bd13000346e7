"""tf32-matmul's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload tf32-matmul --k 8``): on the CPU, i.e. without
TF32.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64, each, same

MEASURED = {
    "jax-highest": same(0.772),
    "jax-highest-keras-clip": same(0.772),
    "jax-highest-keras-torch-clip": same(0.772),
    "reference-f64": same(0.772, F64),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.772)),
}
