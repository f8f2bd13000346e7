"""momentum-schedule's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload momentum-schedule --k 8``; arms added later
with ``--arms <them>,reference-f64``: ``torch-keras-momentum``, then the four Nesterov arms); the torch arms
with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-sgd-momentum-literal": same(0.806),
    "jax-keras-momentum": same(0.818),
    "jax-keras-momentum-clip": same(0.818),
    "jax-keras-momentum-torch-clip": same(0.818),
    "torch-sgd-momentum": same(0.806, k8=K8_TORCH),
    "torch-keras-momentum": same(0.818, k8=K8_TORCH),
    "reference-f64": same(0.818),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.818)),
    "jax-nesterov-literal": same(0.809),
    "jax-keras-nesterov": same(0.826),
    "torch-sgd-nesterov": same(0.809, k8=K8_TORCH),
    "keras-tensorflow-nesterov": same(0.826),
}
