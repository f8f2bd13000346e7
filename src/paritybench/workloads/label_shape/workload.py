"""label-shape: labels of shape (n,) against predictions of shape (n, 1).

The seed's sigmoid MLP made small (784-128-1, stax's initial weights as the seed draws them)
on *normalized* pixels, 10 full-batch SGD steps at lr 0.1. A hand-written BCE given the user's flat (n,)
label vector and the model's (n, 1) output broadcasts to an (n, n) matrix and averages it:
every prediction is scored against every label, the gradient pulls each logit towards
the base rate, and the model trains without an error on an objective that ignores which
label is whose. Keras's losses are immune: ``LossFunctionWrapper`` aligns the ranks first
(``squeeze_or_expand_to_same_rank`` in ``keras/src/losses/loss.py``, (n,) -> (n, 1)).
The fix is one reshape.

Why this setting: normalized pixels and lr 0.1 are the textbook SGD setting in which the
correct objective learns in 10 steps (0.79 training accuracy measured), so the broadcast
arm's failure to learn is the pitfall and not the seed's saturation. On raw pixels the
seed's BCE problems would be mixed in.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.label_shape.evidence import MEASURED

SIZES = (784, 128, 1)  # the seed's 1000 made small: the pitfall is in the loss, and every arm runs in seconds
PARAMS = dense_params(SIZES)
F = Folder("paritybench.workloads.label_shape")
_ALIGNED = "(n,) expanded to (n, 1)"

ARMS = (
    F.port(
        "jax-broadcast",
        "literal port: optax BCE of z (n, 1) against y (n,), broadcast to (n, n) and averaged",
        "broadcast",
        {"labels": "(n,)", "loss shape": "(n, n): every logit against every label"},
    ),
    F.fix(
        "jax-reshape",
        "the fix: z.reshape(-1) against y (n,), BCE from logits",
        "reshaped",
        {"labels": "(n,)", "loss shape": "(n,)"},
    ),
    *F.keras_emulations(
        (
            "jax-keras-clip",
            "Keras-JAX in JAX: labels expanded to (n, 1), p clipped to [1e-7, 1-1e-7]",
            {"labels": _ALIGNED, "loss path": "sigmoid probabilities clipped"},
        ),
        (
            "jax-keras-torch-clip",
            "Keras-torch in JAX: labels expanded to (n, 1), torch's clipped BCE",
            {"labels": _ALIGNED, "loss path": "sigmoid probabilities clamped"},
        ),
    ),
    *F.keras_arms(
        tensorflow="BCE from the cached logits, shapes aligned by the loss wrapper",
        jax="clipped BCE on p, shapes aligned by the loss wrapper",
        torch="clipped BCE on p via torch, shapes aligned by the loss wrapper",
        conventions={"labels": "(n, 1) as fed; a (n,) vector is expanded to (n, 1) by the loss wrapper"},
    ),
    F.reference(
        "JAX in float64, BCE from logits on aligned shapes: the ground truth",
        # "dtype" named here only to keep the order these conventions have always been recorded in
        {"loss path": "from logits", "dtype": "float64", "labels": "(n, 1)"},
        loss="reshaped",
    ),
)

WORKLOAD = F.workload(
    name="label-shape",
    question="Does a hand-written BCE given labels of shape (n,) against predictions of shape (n, 1) train on "
    "the right objective, and are Keras's losses immune?",
    sources=("tensorflow/tensorflow#1343", "pytorch/pytorch#1939", "deepset-ai/FARM#229"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=F.model(PARAMS, "sigmoid", "relu"),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-reshape",
)
