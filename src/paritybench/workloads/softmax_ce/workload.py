"""softmax-ce: the multi-class twin of the seed question. Ten-class MNIST on raw pixels,
784-1000-10 with a softmax output, same weights, 10 full-batch SGD steps: does Keras's
TensorFlow backend take the cached logits for categorical cross-entropy as it does for
the sigmoid, and what do a literal port and the clipped ports do?

Measured answer (keras 3.15.1, jax 0.12.0.1, tensorflow 2.21.0; docs/catalogue.md): yes, Keras-TF
swaps in the logits (``_get_logits`` in ``keras/src/backend/tensorflow/nn.py``) and
matches ``optax.softmax_cross_entropy`` to rounding; the JAX and torch backends clip
the probability, and a literal ``-sum(y log softmax)`` is NaN from step 0.
"""

from __future__ import annotations

from paritybench.workloads import evidence
from paritybench.workloads.base import Arm, Data, Model, Training, Workload

INPUT_DIM = 784
HIDDEN = 1000
CLASSES = 10
_P = "paritybench.workloads.softmax_ce"

PARAMS = {
    "dense_0/kernel": (INPUT_DIM, HIDDEN),
    "dense_0/bias": (HIDDEN,),
    "dense_1/kernel": (HIDDEN, CLASSES),
    "dense_1/bias": (CLASSES,),
}


def _jax_arm(name, description, loss, **kw) -> Arm:
    return Arm(name, description, "jax", loss, loss_fn=f"{_P}.jax_model:{loss}", requires=("jax", "optax"), **kw)


def _keras_arm(backend: str, why: str, **kw) -> Arm:
    return Arm.keras(backend, why, f"{_P}.keras_model:loss", **kw)


ARMS = (
    _jax_arm(
        "jax-naive",
        "literal port: -sum(y log softmax(z))",
        "naive",
        role="port",
        conventions={"loss path": "log of softmax probabilities, no clip"},
    ),
    _jax_arm(
        "jax-keras-clip",
        "Keras's JAX path: p / sum(p), clipped to [1e-7, 1-1e-7]",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        expected="chaotic",
        conventions={"loss path": "softmax probabilities renormalised, clipped to [1e-7, 1-1e-7]"},
    ),
    _jax_arm(
        "jax-keras-torch-clip",
        "Keras's torch path: the same clip with torch 2.15's gradient (zero at the bounds)",
        "keras_torch_clip",
        role="emulation",
        emulates="keras-torch",
        expected="chaotic",
        conventions={"loss path": "softmax probabilities renormalised, clamped to [1e-7, 1-1e-7]"},
    ),
    _jax_arm(
        "jax-logits",
        "CE from logits (optax.softmax_cross_entropy): the fix",
        "logits",
        role="fix",
        emulates="keras-tensorflow",
        conventions={"loss path": "from logits"},
    ),
    _keras_arm("tensorflow", "CE from the logits its softmax output caches (_keras_logits)"),
    _keras_arm("jax", "CE on p / sum(p) clipped to [1e-7, 1-1e-7]", expected="chaotic"),
    _keras_arm("torch", "CE on p / sum(p) clipped to [1e-7, 1-1e-7] with torch.clip", expected="chaotic"),
    Arm(
        "reference-f64",
        "JAX in float64, CE from logits: the ground truth",
        "f64",
        "logits_f64",
        loss_fn=f"{_P}.jax_model:logits",
        requires=("jax", "optax"),
        role="reference",
        conventions={"loss path": "from logits", "dtype": "float64"},
    ),
)

WORKLOAD = Workload(
    name="softmax-ce",
    version="1",
    question="Does Keras's categorical cross-entropy on a softmax output take the cached logits on TensorFlow "
    "as BCE does on a sigmoid, and what do a literal and the clipped JAX ports of it do?",
    sources=("keras-team/keras#15249", "keras-team/keras#20804"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=False),
    training=Training(steps=10, lr=0.01),
    model=Model(
        params=PARAMS,
        head="softmax",
        init=f"{_P}.jax_model:init",
        jax_apply=f"{_P}.jax_model:apply",
        keras_build=f"{_P}.keras_model:build",
        jax_layers=f"{_P}.jax_model:layers",
        keras_layers={"dense_0/relu": 0},
    ),
    arms=evidence.apply("softmax-ce", ARMS),  # measured sensitivity classes (workloads/evidence.py)
    fix="jax-logits",
)
