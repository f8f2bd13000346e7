"""softmax-ce's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured with ``paritybench sensitivity --workload softmax-ce --k 8 --arms <every main-process arm>`` (seed 0,
window 0, one-ulp copies, rel 1e-7) on the 2-core CPU machine (jax 0.12.0.1); the Keras arms the same way,
``--arms <keras arms>,reference-f64``, by their worker processes (keras 3.15.1, tensorflow 2.21.0, torch
2.15.0): every copy of every Keras arm ended on its own final weights (8 distinct hashes), so the
perturbation reached the workers.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import same, spread

MEASURED = {
    "jax-naive": same(0.097),
    "jax-logits": same(0.169),
    "reference-f64": same(0.169),
    "jax-keras-clip": spread(0.390, 0.455),
    "jax-keras-torch-clip": spread(0.401, 0.443),
    "keras-tensorflow": same(0.169),
    "keras-jax": spread(0.333, 0.454, "its emulation jax-keras-clip spans 0.390-0.455"),
    "keras-torch": spread(0.340, 0.437, "its emulation jax-keras-torch-clip spans 0.401-0.443"),
}
