"""fit-shuffle's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload fit-shuffle --k 8``); the torch arm with torch 2.15.
The in-order arms end at 0.816, the arms in Keras-JAX's order at 0.832, Keras-TF's and Keras-torch's own orders at
0.820 and 0.844: the order, not rounding, sets the final accuracy.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-in-order": same(0.816),
    "jax-fit-order": same(0.832),
    "jax-fit-order-keras-clip": same(0.832),
    "torch-in-order": same(0.816, k8=K8_TORCH),
    "keras-tensorflow": same(0.820),
    "keras-torch": same(0.844),
    "keras-tensorflow-in-order": same(0.816),
    "reference-f64": same(0.832),
    **each(("keras-jax",), same(0.832)),
}
