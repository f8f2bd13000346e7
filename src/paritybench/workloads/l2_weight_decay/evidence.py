"""l2-weight-decay's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload l2-weight-decay --k 8``); the torch arm with torch
2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-sgd-decay-literal": same(0.131),
    "jax-sgd-l2": same(0.131),
    "jax-sgd-l2-clip": same(0.131),
    "jax-sgd-l2-torch-clip": same(0.131),
    "torch-sgd-weight-decay": same(0.131, k8=K8_TORCH),
    "jax-adam-l2": same(0.634),
    "jax-adamw": same(0.642),
    "reference-f64": same(0.131),
    **each(("keras-tensorflow", "keras-jax", "keras-torch", "keras-tensorflow-l2-half"), same(0.131)),
    "keras-tensorflow-adam-l2": same(0.634),
    "keras-tensorflow-adamw": same(0.642),
}
