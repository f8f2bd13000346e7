"""How close two runs of one arm must be to count as the same result, and why.

Every arm is either ``stable`` (a bit of rounding in the initial weights or the
kernels moves its final weights by rounding only) or ``chaotic`` (the clip kills
the gradient of every saturated sample, so which samples are saturated at each
step, and so where training ends, hangs on single ulps). A stable arm is held run
by run to tight tolerances; a chaotic arm is compared as a distribution of final
accuracies over seeds, windows and perturbed copies, with a two-sample test.

The classes come from ``paritybench sensitivity`` when its artifact is given
(top-level ``"classes"``); until then from the workload's declaration (``Arm.expected``
with ``Arm.evidence``; for the seed, ``workloads/seed_bce/workload.py``). Figures quoted
were measured on the seed preset (seed 0,
window 0, 10 steps at lr 0.01, raw pixels) on a 2-core Xeon with AVX-512, jax
0.12.0.1, tensorflow 2.21.0, keras 3.15.1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from paritybench.errors import ParityError

STABLE = "stable"
CHAOTIC = "chaotic"
CLASSES = (STABLE, CHAOTIC)


@dataclass(frozen=True)
class Tolerance:
    """Run-by-run limits for a stable arm (all NaN-aware: NaN matches NaN at the same place)."""

    weights_atol: float
    loss_rtol: float
    grad_norm_rtol: float
    samples: int


STABLE_TOLERANCE = Tolerance(
    # 40x the largest difference measured between two *different* stable implementations
    # (jax-logits vs keras-tensorflow: 2.4e-6 after 10 steps), still 360x below the gap
    # between two chaotic arms (3.6e-2): room for another BLAS or a GPU, none for a real change.
    weights_atol=1e-4,
    # Per-step loss and gradient norm: on the seed preset the three stable implementations
    # differ by at most 5e-7 (relative). Across machines and many cases they differ more:
    # the default sweep (10 seeds x 10 windows) on this 2-core CPU against an H200 moved
    # reference-f64's loss by up to 2.0e-3 and its gradient norm by 7.6e-3 (seed 2, window
    # 5000: a ReLU unit on the edge of 0 flips with the BLAS's summation order, float64 or
    # not), jax-logits' by 7.9e-5 and 1.9e-4, accuracy by at most one sample. 2e-2 holds
    # those with a margin and is still 75x below the clipped arms' differences (loss 1.5x).
    loss_rtol=2e-2,
    grad_norm_rtol=2e-2,
    # Accuracy is a count: one sample may sit exactly on the 0.5 threshold and flip with rounding.
    samples=1,
)

# Two-sample test for chaotic arms: Mann-Whitney U on final accuracies (no normality assumed;
# accuracies of clipped runs are bimodal). alpha 0.01: a CI job compares many arms, and a false
# alarm costs a human an afternoon.
ALPHA = 0.01


def can_reject(n_a: int, n_b: int, alpha: float = ALPHA) -> bool:
    """Whether Mann-Whitney U on n_a vs n_b runs can reach p < alpha at all.

    The smallest two-sided p is 2 / C(n_a + n_b, n_a) (one side entirely above the
    other): 0.1 at 3 vs 3, 0.029 at 4 vs 4, 0.008 at 5 vs 5, 0.0099 at 1 vs 200. Below
    that, "no difference found" means nothing, so the pair is reported inconclusive.
    """
    return n_a > 0 and n_b > 0 and 2 / math.comb(n_a + n_b, n_a) < alpha


def classes_from(
    sensitivity: dict | None, source: str = "sensitivity artifact", defaults: dict[str, str] | None = None
) -> dict[str, str]:
    """The workload's declared classes (``Arm.expected``, each with its evidence) overlaid with a
    sensitivity artifact's top-level ``classes``."""
    out = dict(defaults or {})
    if sensitivity is None:
        return out
    given = sensitivity.get("classes")
    if not isinstance(given, dict) or not given:
        raise ParityError(
            f'{source} has no top-level "classes" object: pass the artifact written by paritybench sensitivity'
        )
    for arm, cls in given.items():
        if cls not in CLASSES:
            raise ParityError(f"{source}: classes.{arm} is {cls!r}: must be one of {', '.join(CLASSES)}")
        out[arm] = cls
    return out
