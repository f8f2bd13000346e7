"""softmax-ce: the multi-class twin of the seed question. Ten-class MNIST on raw pixels,
784-1000-10 with a softmax output, same weights, 10 full-batch SGD steps: does Keras's
TensorFlow backend take the cached logits for categorical cross-entropy as it does for
the sigmoid, and what do a literal port and the clipped ports do?

Measured answer (keras 3.15.1, jax 0.12.0.1, tensorflow 2.21.0; ``evidence.py``, docs/catalogue.md): yes, Keras-TF
swaps in the logits (``_get_logits`` in ``keras/src/backend/tensorflow/nn.py``) and
matches ``optax.softmax_cross_entropy`` to rounding; the JAX and torch backends clip
the probability, and a literal ``-sum(y log softmax)`` is NaN from step 0.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training, Workload
from paritybench.workloads.kit import arms as kit
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.softmax_ce.evidence import MEASURED

SIZES = (784, 1000, 10)
PARAMS = dense_params(SIZES)
_P = "paritybench.workloads.softmax_ce"
_JAX = f"{_P}.jax_model"
_RENORM = "softmax probabilities renormalised"

ARMS = (
    kit.jax_arm(
        "jax-naive",
        "literal port: -sum(y log softmax(z))",
        "naive",
        _JAX,
        role="port",
        conventions={"loss path": "log of softmax probabilities, no clip"},
    ),
    *kit.keras_emulations(
        _JAX,
        (
            "jax-keras-clip",
            "Keras's JAX path: p / sum(p), clipped to [1e-7, 1-1e-7]",
            {"loss path": f"{_RENORM}, clipped to [1e-7, 1-1e-7]"},
        ),
        (
            "jax-keras-torch-clip",
            "Keras's torch path: the same clip with torch 2.15's gradient (zero at the bounds)",
            {"loss path": f"{_RENORM}, clamped to [1e-7, 1-1e-7]"},
        ),
    ),
    kit.jax_arm(
        "jax-logits",
        "CE from logits (optax.softmax_cross_entropy): the fix",
        "logits",
        _JAX,
        role="fix",
        emulates="keras-tensorflow",
        conventions={"loss path": "from logits"},
    ),
    *kit.keras_arms(
        f"{_P}.keras_model:loss",
        {
            "tensorflow": "CE from the logits its softmax output caches (_keras_logits)",
            "jax": "CE on p / sum(p) clipped to [1e-7, 1-1e-7]",
            "torch": "CE on p / sum(p) clipped to [1e-7, 1-1e-7] with torch.clip",
        },
    ),
    kit.reference_f64(
        "JAX in float64, CE from logits: the ground truth",
        f"{_JAX}:logits",
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
    model=kit.folder_model(
        _P,
        PARAMS,
        "softmax",
        jax_layers=f"{_JAX}:layers",
        keras_layers={"dense_0/relu": 0},
    ),
    arms=kit.with_evidence(ARMS, MEASURED),
    fix="jax-logits",
)
