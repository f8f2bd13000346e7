"""The model's output head: probabilities, predictions, and the per-step diagnostics.

Written once against the array namespace ``xp`` (``numpy`` or ``jax.numpy``: the
names used here exist in both), so the JAX arms' compiled programs, the Keras
workers (on the NumPy values their backend's autodiff returns) and the float64
arbiter compute the same diagnostics with the same code.

Three heads:
- ``sigmoid``: one logit z per sample, p = sigmoid(z), label y in {0, 1} of shape (n, 1),
  predicted positive when p > 0.5 (Keras's BinaryAccuracy threshold).
- ``softmax``: ten logits, p = softmax(z), one-hot labels (n, 10), predicted class argmax p.
- ``linear``: no activation (Keras's ``"linear"``): the model's outputs are its predictions, of any shape,
  against targets of the same shape (a regression). There are no classes, so no accuracy: the workload's
  metric is its loss. The curves that mean nothing without classes or a saturating activation are
  ``ABSENT[head]``, each with its reason; the arms compute them as NaN placeholders and the runner leaves
  them out of the artifact, recording the reasons instead (never zeros).
"""

from __future__ import annotations

import math

# 1/(1 + exp(-z)) rounds to exactly 1.0 in float32 once exp(-z) drops below half
# an ulp of 1 (2**-24), i.e. z > 24 ln 2 = 16.64; symmetrically, for z < -16.64,
# 1 - p rounds to 1.0 and log(1 - p) carries no information. Past this point a
# loss that only sees p cannot tell a logit of 17 from one of 300. For a softmax the
# same holds of the gap between the top logit and the runner-up.
SATURATION_LOGIT = 24 * math.log(2)

# The per-step diagnostic curves every arm records (steps+1 entries each).
# ``dead_misclassified`` is the share of samples that are misclassified *and*
# get exactly zero gradient: the ones a clipped loss has given up on.
PER_STEP = ("saturated_output", "saturated_logit", "dead_gradient", "dead_misclassified", "nonfinite_gradient")

_NO_CLASSES = "a linear head predicts values, not classes: the workload's metric is its loss"
# head -> curve -> why that curve means nothing for the head (absent from its runs, with this reason)
ABSENT: dict[str, dict[str, str]] = {
    "sigmoid": {},
    "softmax": {},
    "linear": {
        "accuracy": _NO_CLASSES,
        "correct": _NO_CLASSES,
        "eval_accuracy": _NO_CLASSES,
        "saturated_output": "a linear head has no activation that saturates",
        "saturated_logit": "a linear head has no probability for a large output to saturate",
        "dead_gradient": "a regression loss's gradient is exactly zero only where a prediction is exact: "
        "a zero gradient is a fitted sample, not a dead one",
        "dead_misclassified": _NO_CLASSES,
    },
}


def metric(head: str) -> str:
    """The curve the run table and the report lead with: ``accuracy`` for a classifier, else ``loss``."""
    return "loss" if "accuracy" in ABSENT[head] else "accuracy"


def probabilities(xp, head: str, z):
    """The head's activation of the logits, in the logits' own precision."""
    if head == "linear":
        return z
    if xp.__name__ == "numpy":
        # late: scipy (a slow import): loaded only where this statistic is computed
        from scipy.special import expit, softmax  # neither overflows nor warns

        return expit(z) if head == "sigmoid" else softmax(z, axis=-1)
    import jax  # late: a framework: loads after the numerics flags

    return jax.nn.sigmoid(z) if head == "sigmoid" else jax.nn.softmax(z, axis=-1)


def correct_mask(xp, head: str, p, y):
    """Per sample: does the prediction from probabilities ``p`` match the label ``y``?

    A NaN probability compares False (predicts class 0 for sigmoid), as Keras did. A linear head has no
    classes: no sample counts as correct (its ``correct`` curve is left out of the artifact)."""
    if head == "linear":
        return xp.zeros(p.shape[:1], dtype=bool)
    if head == "sigmoid":
        return ((p > 0.5) == (y > 0.5))[..., 0]
    return xp.argmax(p, axis=-1) == xp.argmax(y, axis=-1)


def logit_margin(xp, head: str, z):
    """Per sample: the gap between the top logit and the runner-up (for sigmoid, |z|:
    the other class's logit is 0)."""
    if head == "sigmoid":
        return xp.abs(z[..., 0])
    s = xp.sort(z, axis=-1)
    return s[..., -1] - s[..., -2]


def measure(xp, head: str, z, dz, y, p=None) -> dict:
    """The per-step diagnostics at one set of weights, from the logits ``z``, the per-sample
    loss gradient with respect to them ``dz`` (from the arm's own loss by its own framework's
    autodiff) and the labels ``y``; ``p``, the probabilities, when the framework computed its
    own. Returns shares of the batch (and ``correct``, a count); for a linear head, ``ABSENT[head]``'s
    curves are NaN placeholders."""
    if head == "linear":
        nan = xp.asarray(float("nan"), dtype=xp.float32)
        flat = xp.reshape(dz, (dz.shape[0], -1))  # a regression's outputs may be (n,) or (n, ...)
        return {
            "correct": xp.sum(xp.zeros(dz.shape[:1], dtype=bool)),
            **{k: nan for k in PER_STEP if k in ABSENT[head]},
            "nonfinite_gradient": xp.mean(xp.any(~xp.isfinite(flat), axis=-1)),
        }
    p = probabilities(xp, head, z) if p is None else p
    ok = correct_mask(xp, head, p, y)
    dead = xp.all(dz == 0.0, axis=-1)
    return {
        "correct": xp.sum(ok),
        "saturated_output": xp.mean(xp.any((p == 0.0) | (p == 1.0), axis=-1)),
        "saturated_logit": xp.mean(logit_margin(xp, head, z) > SATURATION_LOGIT),
        "dead_gradient": xp.mean(dead),
        # the harmful kind: wrong, and the loss gives no gradient to fix it
        "dead_misclassified": xp.mean(dead & ~ok),
        "nonfinite_gradient": xp.mean(xp.any(~xp.isfinite(dz), axis=-1)),
    }


def count_correct(xp, head: str, z, y) -> int:
    """Correct predictions from logits ``z`` (the weight swap's evaluation)."""
    return int(xp.sum(correct_mask(xp, head, probabilities(xp, head, z), y)))
