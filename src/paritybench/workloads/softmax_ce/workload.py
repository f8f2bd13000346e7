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

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.softmax_ce.evidence import MEASURED

SIZES = (784, 1000, 10)
PARAMS = dense_params(SIZES)
F = Folder("paritybench.workloads.softmax_ce")
_RENORM = "softmax probabilities renormalised"
_LOGITS = {"loss path": "from logits"}

ARMS = (
    F.port(
        "jax-naive",
        "literal port: -sum(y log softmax(z))",
        "naive",
        {"loss path": "log of softmax probabilities, no clip"},
    ),
    *F.keras_emulations(
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
    F.fix(
        "jax-logits",
        "CE from logits (optax.softmax_cross_entropy): the fix",
        "logits",
        _LOGITS,
    ),
    *F.keras_arms(
        tensorflow="CE from the logits its softmax output caches (_keras_logits)",
        jax="CE on p / sum(p) clipped to [1e-7, 1-1e-7]",
        torch="CE on p / sum(p) clipped to [1e-7, 1-1e-7] with torch.clip",
    ),
    F.reference("JAX in float64, CE from logits: the ground truth", _LOGITS),
)

WORKLOAD = F.workload(
    name="softmax-ce",
    question="Does Keras's categorical cross-entropy on a softmax output take the cached logits on TensorFlow "
    "as BCE does on a sigmoid, and what do a literal and the clipped JAX ports of it do?",
    sources=("keras-team/keras#15249", "keras-team/keras#20804"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=False),
    training=Training(steps=10, lr=0.01),
    model=F.model(PARAMS, "softmax", "relu"),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-logits",
)
