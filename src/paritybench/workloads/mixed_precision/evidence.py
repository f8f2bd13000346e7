"""mixed-precision's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

Measured as ``kit.evidence`` says: ``sensitivity --workload mixed-precision --k 8`` (the JAX and float64 arms,
42 s) and ``--arms keras-tensorflow,keras-jax,keras-torch,reference-f64`` (the Keras workers, 39 s),
on the shared 2-core CPU. The bf16-weights port ends in only 2 distinct weight sets over the 8 copies: the
bfloat16 grid absorbs most one-ulp (float32) perturbations.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import each, same

MEASURED = {
    "jax-bf16-weights": same(0.177, "2 distinct final weight sets: the bfloat16 grid absorbs the perturbation"),
    **each(("jax-mixed-bf16", "jax-mixed-bf16-clip", "jax-mixed-bf16-torch-clip", "jax-float32"), same(0.210)),
    "jax-mixed-bf16-tf": same(0.209),
    **each(("keras-tensorflow", "keras-jax"), same(0.210)),
    "keras-torch": same(0.209),
    "reference-f64": same(0.210),
}
