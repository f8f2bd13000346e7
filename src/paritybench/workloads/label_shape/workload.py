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

from paritybench.workloads import evidence
from paritybench.workloads.base import Arm, Data, Model, Training, Workload

INPUT_DIM = 784
HIDDEN = 128  # the seed's 1000 made small: the pitfall is in the loss, and every arm runs in seconds
_P = "paritybench.workloads.label_shape"

PARAMS = {
    "dense_0/kernel": (INPUT_DIM, HIDDEN),
    "dense_0/bias": (HIDDEN,),
    "dense_1/kernel": (HIDDEN, 1),
    "dense_1/bias": (1,),
}


def _jax_arm(name: str, description: str, loss: str, **kw) -> Arm:
    return Arm(name, description, "jax", loss, loss_fn=f"{_P}.jax_model:{loss}", requires=("jax", "optax"), **kw)


def _keras_arm(backend: str, why: str, **kw) -> Arm:
    return Arm.keras(
        backend,
        why,
        f"{_P}.keras_model:loss",
        conventions={"labels": "(n, 1) as fed; a (n,) vector is expanded to (n, 1) by the loss wrapper"},
        **kw,
    )


ARMS = (
    _jax_arm(
        "jax-broadcast",
        "literal port: optax BCE of z (n, 1) against y (n,), broadcast to (n, n) and averaged",
        "broadcast",
        role="port",
        conventions={"labels": "(n,)", "loss shape": "(n, n): every logit against every label"},
    ),
    _jax_arm(
        "jax-reshape",
        "the fix: z.reshape(-1) against y (n,), BCE from logits",
        "reshaped",
        role="fix",
        emulates="keras-tensorflow",
        conventions={"labels": "(n,)", "loss shape": "(n,)"},
    ),
    _jax_arm(
        "jax-keras-clip",
        "Keras-JAX in JAX: labels expanded to (n, 1), p clipped to [1e-7, 1-1e-7]",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        conventions={"labels": "(n,) expanded to (n, 1)", "loss path": "sigmoid probabilities clipped"},
    ),
    _jax_arm(
        "jax-keras-torch-clip",
        "Keras-torch in JAX: labels expanded to (n, 1), torch's clipped BCE",
        "keras_torch_clip",
        role="emulation",
        emulates="keras-torch",
        conventions={"labels": "(n,) expanded to (n, 1)", "loss path": "sigmoid probabilities clamped"},
    ),
    _keras_arm("tensorflow", "BCE from the cached logits, shapes aligned by the loss wrapper"),
    _keras_arm("jax", "clipped BCE on p, shapes aligned by the loss wrapper"),
    _keras_arm("torch", "clipped BCE on p via torch, shapes aligned by the loss wrapper"),
    Arm(
        "reference-f64",
        "JAX in float64, BCE from logits on aligned shapes: the ground truth",
        "f64",
        "logits_f64",
        loss_fn=f"{_P}.jax_model:reshaped",
        requires=("jax", "optax"),
        role="reference",
        evidence="float64 throughout: float32 rounding never reaches it",
        conventions={"loss path": "from logits", "dtype": "float64", "labels": "(n, 1)"},
    ),
)

WORKLOAD = Workload(
    name="label-shape",
    version="1",
    question="Does a hand-written BCE given labels of shape (n,) against predictions of shape (n, 1) train on "
    "the right objective, and are Keras's losses immune?",
    sources=("tensorflow/tensorflow#1343", "pytorch/pytorch#1939", "deepset-ai/FARM#229"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=Model(
        params=PARAMS,
        head="sigmoid",
        init=f"{_P}.jax_model:init",
        jax_apply=f"{_P}.jax_model:apply",
        keras_build=f"{_P}.keras_model:build",
        jax_layers=f"{_P}.jax_model:layers",
        keras_layers={"dense_0/relu": 0},
    ),
    arms=evidence.apply("label-shape", ARMS),  # measured sensitivity classes (workloads/evidence.py)
    fix="jax-reshape",
)
