"""dropout-rng's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload dropout-rng --k 8``; training accuracy, in training mode
with each arm's masks); the torch arm with torch 2.15. Every copy of an arm draws the same masks (the state
``dropout/seed`` starts at [SEED, 0] per case), so the one-ulp copies stay together.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-stax-keep-rate": same(0.410),
    "jax-dropout-at-eval": same(0.840),
    "jax-keras-dropout": same(0.840),
    "jax-keras-dropout-clip": same(0.840),
    "torch-dropout": same(0.832, k8=K8_TORCH),
    "keras-tensorflow": same(0.797),
    "keras-torch": same(0.832),
    "reference-f64": same(0.840),
    **each(("keras-jax",), same(0.840)),
}
