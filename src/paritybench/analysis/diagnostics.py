"""Per-step diagnostics: why an arm's training differs from the ground truth.

Three questions, each answered from an arm's own numbers:
- How saturated is the model? ``saturated_output``: the share of samples whose
  sigmoid output is exactly 0.0 or 1.0 in the arm's own precision;
  ``saturated_logit``: the share with |logit| > ``SATURATION_LOGIT``.
- How much of the batch still learns? ``dead_gradient``: the share of samples
  whose per-sample loss gradient with respect to the logit is exactly zero,
  taken from the arm's own loss by its own framework's autodiff, and
  ``dead_misclassified``: those among them that are misclassified (a logits
  loss only zeroes samples it already gets right, to float32 precision).
- Does its gradient point where the truth's does? At every step, the arm's
  full gradient against the reference arm's (float64) gradient *at the arm's own
  weights*: ``grad_cosine`` and ``grad_rel_error``; and its distance from the
  reference's trajectory: ``weight_distance`` (L2) and ``weight_max_abs_diff``.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence

import numpy as np

from paritybench.experiment.weights import Weights

# The per-step curves (saturation, dead gradients) are computed by ``paritybench.experiment.heads.measure``.
# A Keras arm and the JAX arm that emulates it (``Arm.emulates``) may only be claimed to share a
# mechanism when the artifact shows it reproduced: max |weight difference| after step 1 within
# MECHANISM_TOLERANCE.
# One SGD step moves weights by lr * grad ~ 1e-3; float32 rounding of that
# update on weights ~0.05 is ~4e-9, so 1e-6 separates "same arithmetic up to
# rounding" from "different loss" (clip vs logits differ by >1e-3 after step 1).
MECHANISM_TOLERANCE = 1e-6
# A free-running step 1 over the tolerance has two causes that the weights alone cannot tell apart: a
# different update rule, or the same rule amplifying the two arms' gradient rounding (Adam's step 1 is
# lr g / (|g| + eps): where |g| is near eps a 1e-9 rounding difference in g moves the update by ~lr 1e-9 /
# eps, measured 1.25e-6 on adam-epsilon torch-adam vs jax-adam-literal at n 200). The rule check feeds the
# twin's rule the framework arm's own step-0 weights and gradient (teacher forcing, one step) and compares
# the result with the framework arm's step 1: within the tolerance, the rule is the same.
VERDICTS = ("reproduced", "same rule; rounding growth", "not reproduced")


def mechanism_verdict(free_step1: float, rule_step1: float | None, tol: float = MECHANISM_TOLERANCE) -> str:
    """``"reproduced"``: the free-running step 1 is within ``tol``; ``"same rule; rounding growth"``: it is not,
    but the twin's rule on the arm's own gradient is (``rule_step1``); ``"not reproduced"``: neither (or no
    rule check: the arm exposes no gradient, as a Keras arm). NaN is never within a tolerance."""
    if free_step1 <= tol:
        return VERDICTS[0]
    if rule_step1 is not None and rule_step1 <= tol:
        return VERDICTS[1]
    return VERDICTS[2]


def _flat(w: Weights, keys) -> np.ndarray:
    """Every array of ``w`` in the order of ``keys``, as one float64 vector. Each array is cast while it is
    copied into place: the same values as concatenating float64 copies, without those copies (0.2 ms
    against 3.4 ms for the seed's 785,001 float32 weights, called four times per step of every arm)."""
    keys = list(keys)
    out = np.empty(sum(np.size(w[k]) for k in keys), np.float64)
    i = 0
    for k in keys:
        v = np.ravel(w[k])
        out[i : i + v.size] = v
        i += v.size
    return out


def gradient_agreement(grad: Weights, ref_grad: Weights) -> tuple[float, float]:
    """(cosine similarity, relative error ||g - r|| / ||r||) of two gradients, in float64."""
    g, r = _flat(grad, grad), _flat(ref_grad, grad)
    if not (np.all(np.isfinite(g)) and np.all(np.isfinite(r))):
        return float("nan"), float("nan")
    gn, rn = float(np.linalg.norm(g)), float(np.linalg.norm(r))
    cos = float(g @ r) / (gn * rn) if gn > 0 and rn > 0 else float("nan")
    rel = float(np.linalg.norm(g - r)) / rn if rn > 0 else float("nan")
    return cos, rel


def weight_distance(w: Weights, ref: Weights) -> tuple[float, float]:
    """(L2 distance, max |difference|) between two weight sets, in float64."""
    d = _flat(w, w) - _flat(ref, w)
    if not np.all(np.isfinite(d)):
        return float("nan"), float("nan")
    return float(np.linalg.norm(d)), float(np.max(np.abs(d)))


def grads_from_trajectory(traj: Sequence[Weights], lr: float) -> list[Weights]:
    """Plain SGD's applied gradients, (w_k - w_{k+1}) / lr, for arms that do not expose theirs."""
    return [
        {k: (np.asarray(a[k], np.float64) - np.asarray(b[k], np.float64)) / lr for k in a}
        for a, b in zip(traj[:-1], traj[1:], strict=True)
    ]


def agreement_curves(
    traj: Sequence[Weights],
    grads: Sequence[Weights],
    ref_traj: Sequence[Weights] | None,
    ref_grad_fn,
    *,
    ref_grad_at_step=None,
) -> dict[str, list[float]]:
    """Per-step agreement of an arm with the reference.

    ``ref_grad_fn(w)`` is the float64 gradient at weights ``w``; ``ref_traj`` the
    reference's own trajectory (same length as ``traj``) or None. Minibatch training
    passes ``ref_grad_at_step(k, w)`` instead: step k's gradient is batch k's.
    """
    out: dict[str, list[float]] = {"grad_cosine": [], "grad_rel_error": []}
    for k, (w, g) in enumerate(zip(traj[:-1], grads, strict=True)):
        if all(np.all(np.isfinite(v)) for v in w.values()):
            ref = ref_grad_at_step(k, w) if ref_grad_at_step is not None else ref_grad_fn(w)
            cos, rel = gradient_agreement(g, ref)
        else:
            cos, rel = float("nan"), float("nan")
        out["grad_cosine"].append(cos)
        out["grad_rel_error"].append(rel)
    if ref_traj is not None:
        dist = [weight_distance(w, r) for w, r in zip(traj, ref_traj, strict=True)]
        out["weight_distance"] = [d[0] for d in dist]
        out["weight_max_abs_diff"] = [d[1] for d in dist]
    return out


def max_abs_diff(a: Weights, b: Weights) -> float:
    return weight_distance(a, b)[1]


class GradMemo:
    """The reference's gradient at given weights, computed once per bit pattern of those weights.

    The agreement curves ask for the reference arm's float64 gradient at every step of every arm
    (10 x 11 of them on the seed, 0.1 s of CPU time each on the 2-core machine), but every arm's step 0
    is the same initial weights, and the reference's own steps were already differentiated by its
    training (``put``). A result is reused only for weights whose every array has the same name,
    dtype, shape and bytes (a SHA-256 over them), under the same key (the case: its data window), so a
    reused value is the one ``grad_fn`` would return. At most ``max_bytes`` of gradients are kept, the
    least recently used dropped first.
    """

    def __init__(self, max_bytes: int = 256 * 2**20):
        self.max_bytes = max_bytes
        self._kept: OrderedDict[tuple, Weights] = OrderedDict()
        self._bytes = 0
        self.hits = self.misses = 0

    @staticmethod
    def _digest(w: Weights) -> bytes:
        h = hashlib.sha256()
        for name in sorted(w):
            a = np.ascontiguousarray(w[name])
            h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
            h.update(memoryview(a).cast("B"))
        return h.digest()

    def put(self, key, w: Weights, grad: Weights) -> None:
        self._keep((key, self._digest(w)), grad)

    def _keep(self, k: tuple, grad: Weights) -> None:
        if k in self._kept:
            return
        self._kept[k] = grad
        self._bytes += sum(np.asarray(v).nbytes for v in grad.values())
        while self._bytes > self.max_bytes and len(self._kept) > 1:
            _, old = self._kept.popitem(last=False)
            self._bytes -= sum(np.asarray(v).nbytes for v in old.values())

    def fn(self, key, grad_fn: Callable[[Weights], Weights]) -> Callable[[Weights], Weights]:
        """``grad_fn`` for one key, through the memo."""

        def memo_grad(w: Weights) -> Weights:
            k = (key, self._digest(w))
            if k in self._kept:
                self.hits += 1
                self._kept.move_to_end(k)
                return self._kept[k]
            self.misses += 1
            g = grad_fn(w)
            self._keep(k, g)  # the digest taken above: the weights are not hashed twice
            return g

        return memo_grad
