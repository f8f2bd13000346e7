"""The model's output head: probabilities, predictions, and the per-step diagnostics.

Written once against the array namespace ``xp`` (``numpy`` or ``jax.numpy``: the
names used here exist in both), so the JAX arms' compiled programs, the Keras
workers (on the NumPy values their backend's autodiff returns) and the float64
arbiter compute the same diagnostics with the same code.

Three heads, and the targets each takes (``targets`` names the form; ``problem`` refuses any other):
- ``sigmoid``: p = sigmoid(z) for every logit, each against its own 0/1 label, so the targets have the
  logits' shape: one label per sample (n, 1) (``binary``), several independent labels per sample (n, k) or
  per position (n, T, k) (``multilabel``). A label counts as predicted positive when p > 0.5 (Keras's
  BinaryAccuracy threshold) and is correct when that agrees with y > 0.5. ``correct`` counts correct
  *labels*, one per element of the targets; accuracy is ``correct / targets.size``. This is Keras's
  ``binary_accuracy`` (``keras/src/metrics/accuracy_metrics.py``: one match per element) as its
  ``MeanMetricWrapper`` reduces it (``reduction_metrics.reduce_to_samplewise_values``: the mean over each
  sample's labels, then the mean over the samples, which is the mean over all labels when every sample
  has k of them). For (n, 1) labels a label is a sample: the count and every curve are as before.
- ``softmax``: p = softmax(z) over the last axis of the logits (n, ..., k): one prediction per *position*
  (a sample, or each of a sequence's T positions for logits (n, T, k)), its class argmax p. The targets are
  one-hot (or class scores) of the logits' own shape, floating (``onehot``; the class is their argmax), or
  integer class ids with the class axis left out, (n,) or (n, T) (``ids``: Keras's
  ``sparse_categorical_crossentropy``, torch's ``cross_entropy`` with class indices; ids given as (n, 1) or
  (n, T, 1), which Keras also takes, are squeezed to these when the data loads, ``workloads.datasource``).
  Which one is the targets' rank against the logits' (one axis fewer: ids), the rule of Keras's own ``"accuracy"``
  (``keras/src/trainers/compile_utils.py``, ``is_binary_or_sparse_categorical``). ``correct`` counts
  correct *positions*; accuracy is ``correct / positions`` (Keras's categorical or sparse categorical
  accuracy over all positions).
- ``linear``: no activation (Keras's ``"linear"``): the model's outputs are its predictions, of any shape,
  against targets of the same shape (a regression). There are no classes, so no accuracy: the workload's
  metric is its loss. The curves that mean nothing without classes or a saturating activation are
  ``ABSENT[head]``, each with its reason; the arms compute them as NaN placeholders and the runner leaves
  them out of the artifact, recording the reasons instead (never zeros).

The diagnostics are per *scored element*, the unit ``correct`` counts (a label for sigmoid, a position for
softmax): a sigmoid label saturates, has a zero gradient or is misclassified on its own; a softmax position
does so across its k classes.
"""

from __future__ import annotations

import math

# 1/(1 + exp(-z)) rounds to exactly 1.0 in float32 once exp(-z) drops below half
# an ulp of 1 (2**-24), i.e. z > 24 ln 2 = 16.64; symmetrically, for z < -16.64,
# 1 - p rounds to 1.0 and log(1 - p) carries no information. Past this point a
# loss that only sees p cannot tell a logit of 17 from one of 300. For a softmax the
# same holds of the gap between the top logit and the runner-up.
SATURATION_LOGIT = 24 * math.log(2)

# The per-step diagnostic curves every arm records (steps+1 entries each), shares of the scored elements.
# ``dead_misclassified`` is the share that are misclassified *and* get exactly zero gradient: the ones a
# clipped loss has given up on.
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

# targets form -> what one ``correct`` counts (the report's unit)
UNIT = {
    "binary": "sample",
    "multilabel": "label",
    "onehot": "sample",
    "ids": "sample",
    "sequence-onehot": "position",
    "sequence-ids": "position",
    "values": "sample",
}


def metric(head: str) -> str:
    """The curve the run table and the report lead with: ``accuracy`` for a classifier, else ``loss``."""
    return "loss" if "accuracy" in ABSENT[head] else "accuracy"


def integer(dtype) -> bool:
    """Integer targets (a softmax head's class ids), from a NumPy or JAX dtype."""
    return getattr(dtype, "kind", "f") in "iu"


def targets(head: str, y_shape: tuple, y_dtype) -> str:
    """The targets' form from their own shape and dtype (the logits' shape is checked by ``problem``):
    ``binary``/``multilabel`` (sigmoid), ``onehot``/``ids``/``sequence-onehot``/``sequence-ids`` (softmax:
    integer targets are class ids, floating ones class scores), ``values`` (linear)."""
    if head == "sigmoid":
        return "binary" if tuple(y_shape[1:]) == (1,) else "multilabel"
    if head == "softmax":
        if integer(y_dtype):
            return "ids" if len(y_shape) == 1 else "sequence-ids"
        return "onehot" if len(y_shape) == 2 else "sequence-onehot"
    return "values"


def scored(head: str, y_shape: tuple, y_dtype) -> int:
    """How many elements ``correct`` counts out of, for targets of ``y_shape`` and ``y_dtype``: every label
    (sigmoid), every position (softmax: the ids' size, or the one-hot rows'), the samples (linear: no
    ``correct``). ``accuracy = correct / scored``; for (n, 1) binary and (n, k) one-hot labels it is n."""
    size = math.prod(y_shape)
    if head == "sigmoid" or (head == "softmax" and integer(y_dtype)):
        return size
    if head == "softmax":
        return size // y_shape[-1] if y_shape[-1] else 0
    return y_shape[0]


def loss_rows(shape: tuple) -> int:
    """How many per-sample loss values logits of ``shape`` give as Keras's losses compute them, which reduce the
    last axis only (``keras/src/losses/losses.py``: ``binary_crossentropy``, ``mean_squared_error``, ...: a mean
    over the last axis; ``sparse_categorical_crossentropy`` one value per id): n for (n, k), n * T for a sequence
    (n, T, k), n for (n,). ``rows * d(mean loss)/d logits`` is then each row's own gradient, the scale localize
    compares d loss/d logit on (a Keras arm's probe differentiates the sum of those rows)."""
    return math.prod(shape[: max(1, len(shape) - 1)])


def top_id(y) -> int | None:
    """The largest class id in integer targets ``y`` (None for floating or empty targets): what ``problem``
    holds to the logits' class count."""
    return int(y.max()) if integer(y.dtype) and y.size else None


def problem(head: str, out_shape: tuple, y_shape: tuple, y_dtype, top: int | None = None) -> str | None:
    """What is wrong with targets of ``y_shape``/``y_dtype`` against logits of ``out_shape`` for ``head``, in
    words with the fix; None when they fit (``correct_mask`` then counts every element as described above).
    ``top``: the largest class id (``top_id``), refused when the logits have no class for it (an id past the
    last class is a NaN or a wrong number, not an error, in some arms: measured for id 7 of 5 classes, optax's
    ``softmax_cross_entropy_with_integer_labels`` gives NaN and Keras's sparse cross-entropy on the JAX backend
    0.0 (its one-hot is a zero row), while Keras on TensorFlow raises mid-training)."""
    out, y = tuple(out_shape), tuple(y_shape)
    if head == "linear":
        return None if out == y else f"the outputs have shape {out} and the targets {y}: give them one shape"
    if head == "sigmoid":
        if len(y) < 2:
            return f"a sigmoid head takes 0/1 labels of shape (n, k) (k >= 1), not {y}: reshape them to (n, 1)"
        if out != y:
            return (
                f"a sigmoid head compares each logit with its own 0/1 label, but the logits have shape {out} and "
                f"the labels {y}: make the model output one logit per label, shape {y}"
            )
        return None
    if len(out) < 2 or out[-1] < 2:
        return (
            f"a softmax head needs logits of shape (n, ..., k) with k >= 2 classes, not {out}: make the model output "
            "one logit per class (for one 0/1 label per sample use head='sigmoid')"
        )
    if integer(y_dtype):
        if y == out[:-1] + (1,):
            return f"integer targets are class ids, one per position: for logits {out} give shape {out[:-1]}: y[..., 0]"
        if y == out[:-2] and out[-2] == 1:  # (n, 1) ids were squeezed, but the logits are sequences of one
            return (
                f"integer targets are class ids, one per position: for logits {out} (sequences of one position) "
                f"give shape {out[:-1]} as {out[:-1] + (1,)}: y[..., None] (a trailing axis of 1 is squeezed)"
            )
        if y != out[:-1]:
            return (
                f"integer targets are class ids, one per position, so for logits {out} they have shape {out[:-1]}, "
                f"not {y} (for one-hot targets give floats: y.astype('float32'))"
            )
        if top is not None and top >= out[-1]:
            return (
                f"class id {top} is out of range for logits {out}, which have {out[-1]} classes: give ids "
                f"0..{out[-1] - 1}, or make the model output one logit per class"
            )
        return None
    if y != out:
        return (
            f"floating targets are one-hot class scores of the logits' shape {out}, not {y} "
            "(for class ids give integers: y.astype('int32'))"
        )
    return None


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
    """Per scored element: does the prediction from probabilities ``p`` match the target ``y``? Sigmoid: one
    entry per label, ``y``'s shape ((n, 1) for one label per sample); softmax: one per position, ``p``'s shape
    without its class axis, against ids (``y`` has one axis fewer than ``p``) or one-hot rows (their argmax).

    A NaN probability compares False (predicts class 0 for sigmoid), as Keras did. A linear head has no
    classes: no sample counts as correct (its ``correct`` curve is left out of the artifact)."""
    if head == "linear":
        return xp.zeros(p.shape[:1], dtype=bool)
    if head == "sigmoid":
        return (p > 0.5) == (y > 0.5)
    if y.ndim == p.ndim - 1:  # class ids
        return xp.argmax(p, axis=-1) == y
    return xp.argmax(p, axis=-1) == xp.argmax(y, axis=-1)


def logit_margin(xp, head: str, z):
    """Per scored element: for sigmoid each logit's |z| (the other class's logit is 0); for softmax, per
    position, the gap between the top logit and the runner-up."""
    if head == "sigmoid":
        return xp.abs(z)
    s = xp.sort(z, axis=-1)
    return s[..., -1] - s[..., -2]


def _per_element(xp, head: str, a):
    """``a`` (one entry per logit) reduced to one per scored element: as is for sigmoid, any over the class
    axis for softmax (a position saturates, or carries a non-finite gradient, through any of its classes)."""
    return a if head == "sigmoid" else xp.any(a, axis=-1)


def dead_mask(xp, head: str, dz):
    """Per scored element: does the loss give it exactly zero gradient? A sigmoid label when its one logit gets
    none; a softmax position when none of its k logits do; a linear head's sample when none of its outputs do."""
    if head == "sigmoid":
        return dz == 0.0
    if head == "softmax":
        return xp.all(dz == 0.0, axis=-1)
    return xp.all(xp.reshape(dz, (dz.shape[0], -1)) == 0.0, axis=-1)


def measure(xp, head: str, z, dz, y, p=None) -> dict:
    """The per-step diagnostics at one set of weights, from the logits ``z``, the per-sample
    loss gradient with respect to them ``dz`` (from the arm's own loss by its own framework's
    autodiff) and the labels ``y``; ``p``, the probabilities, when the framework computed its
    own. Returns shares of the scored elements (see the module's docstring; and ``correct``, a count);
    for a linear head, ``ABSENT[head]``'s curves are NaN placeholders."""
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
    dead = dead_mask(xp, head, dz)
    return {
        "correct": xp.sum(ok),
        "saturated_output": xp.mean(_per_element(xp, head, (p == 0.0) | (p == 1.0))),
        "saturated_logit": xp.mean(logit_margin(xp, head, z) > SATURATION_LOGIT),
        "dead_gradient": xp.mean(dead),
        # the harmful kind: wrong, and the loss gives no gradient to fix it
        "dead_misclassified": xp.mean(dead & ~ok),
        "nonfinite_gradient": xp.mean(_per_element(xp, head, ~xp.isfinite(dz))),
    }


def count_correct(xp, head: str, z, y) -> int:
    """Correct predictions from logits ``z`` (the weight swap's evaluation): scored elements, as ``correct``."""
    return int(xp.sum(correct_mask(xp, head, probabilities(xp, head, z), y)))
