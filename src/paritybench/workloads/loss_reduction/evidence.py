"""loss-reduction's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says (``sensitivity --workload loss-reduction --k 8``: the JAX, torch and float64
arms in one run, the Keras arms with ``--arms <the keras arms>,reference-f64``); the torch arms with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import K8_TORCH, each, same

MEASURED = {
    "jax-weighted-mean": same(0.443),
    **each(("jax-sum-over-batch", "jax-sum-over-batch-clip", "jax-sum-over-batch-torch-clip"), same(0.534)),
    "torch-ce-weight": same(0.443, k8=K8_TORCH),
    "torch-ce-weight-onehot": same(0.534, k8=K8_TORCH),
    **each(("keras-tensorflow", "keras-jax", "keras-torch"), same(0.534)),
    "keras-tensorflow-mean-with-sample-weight": same(0.443),
    "reference-f64": same(0.534),
}
