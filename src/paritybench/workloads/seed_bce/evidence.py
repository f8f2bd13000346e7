"""seed-bce's measured evidence: arm -> (expected class under a one-ulp perturbation, the measurement).

The JAX arms' spans: ``paritybench sensitivity --k 32`` (results/baselines/sensitivity-cpu.json); the
Keras-torch span on an H200; the torch arms ``--k 8`` on the 2-core CPU with torch 2.15.
"""

from __future__ import annotations

from paritybench.workloads.kit.evidence import F64, K8_TORCH

_ONE_ULP = "over 32 one-ulp copies (sensitivity-cpu.json"

MEASURED = {
    # log(0) at step 0 for every saturated sample: the loss is inf, the gradient NaN and every
    # weight NaN from step 1, on every machine. Stable, but only NaN-aware comparisons see it.
    "jax-naive": ("stable", "NaN from step 0 on every machine measured (CPU, H200)"),
    "jax-seed-stable": ("chaotic", f"final accuracy 0.567-0.819 {_ONE_ULP})"),
    "jax-keras-clip": ("chaotic", f"final accuracy 0.510-0.817 {_ONE_ULP})"),
    "jax-keras-torch-clip": ("chaotic", f"0.490-0.838 {_ONE_ULP}, with torch 2.11's clip gradient)"),
    "jax-logits": ("stable", "0.909 on every one-ulp copy; within 2.4e-6 of keras-tensorflow after 10 steps"),
    "keras-tensorflow": ("stable", "within 2.4e-6 of jax-logits after 10 steps: rounding, not chaos"),
    "keras-jax": ("chaotic", "bit-identical to jax-keras-clip; 0.524-0.810 over 32 one-ulp copies"),
    "keras-torch": ("chaotic", "0.494-0.793 over 32 one-ulp copies on an H200"),
    "torch-bce": ("stable", f"0.490 on all 8 one-ulp copies {K8_TORCH}: the dead gradients are dead on every copy"),
    "torch-bce-logits": ("stable", f"0.909 on all 8 one-ulp copies {K8_TORCH}"),
    "reference-f64": ("stable", F64),
}
