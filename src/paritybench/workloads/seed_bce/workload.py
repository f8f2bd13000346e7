"""seed-bce: the seed question. A 784-1000-1 MLP on raw-pixel MNIST, same weights,
10 full-batch SGD steps: why does Keras-TF reach 0.909 while a JAX port reaches 0.5-0.79?

The answer: Keras's TensorFlow backend quietly computes the BCE from the logits
behind the sigmoid (``_keras_logits``), while a loss written on the probability
saturates (log(0), or a clip whose gradient is zero for every saturated sample).
Figures measured on the seed preset (seed 0, window 0) on a 2-core Xeon with
AVX-512, jax 0.12.0.1, tensorflow 2.21.0, keras 3.15.1 (``evidence.py``).
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.arms import JAX
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.seed_bce.evidence import MEASURED

SIZES = (784, 1000, 1)
INPUT_DIM, HIDDEN = SIZES[0], SIZES[1]
PARAMS = dense_params(SIZES)
F = Folder("paritybench.workloads.seed_bce")
_CLIP = "sigmoid probabilities clipped to [1e-7, 1-1e-7]"
_LOGITS = {"loss path": "from logits"}

ARMS = (
    F.port(
        "jax-naive",
        "the seed's first BCE on sigmoid outputs (log of a saturated p)",
        "naive",
        {"loss path": "log of sigmoid probabilities, no clip"},
        requires=JAX,
    ),
    F.port(
        "jax-seed-stable",
        "the seed's clipped 'stable' BCE: p clipped to [1e-6, 1-1e-7]",
        "seed_stable",
        {"loss path": "sigmoid probabilities clipped to [1e-6, 1-1e-7]"},
        requires=JAX,
    ),
    *F.keras_emulations(
        ("jax-keras-clip", "Keras's JAX/torch probability path: p clipped to [1e-7, 1-1e-7]", {"loss path": _CLIP}),
        (
            "jax-keras-torch-clip",
            "Keras's torch path in JAX: the same clip with torch 2.15's gradient",
            {"loss path": f"{_CLIP}, torch 2.15 gradient"},
        ),
        requires=JAX,
    ),
    F.fix(
        "jax-logits",
        "BCE from logits (optax.sigmoid_binary_cross_entropy): the fix",
        "logits",
        _LOGITS,
    ),
    *F.keras_arms(
        tensorflow="BCE from the logits its sigmoid output caches (_keras_logits)",
        jax="BCE on p clipped to [1e-7, 1-1e-7] (no logits cache on this backend)",
        torch="BCE on p clipped to [1e-7, 1-1e-7] via torch's binary_cross_entropy",
    ),
    F.torch_port(
        "torch-bce",
        "native torch: F.binary_cross_entropy on sigmoid probabilities (each log clamped at -100)",
        "bce",
        {"loss path": "log of sigmoid probabilities, each log clamped at -100 (aten)"},
    ),
    F.torch_fix(
        "torch-bce-logits",
        "native torch: F.binary_cross_entropy_with_logits, the fix in torch",
        "bce_logits",
        _LOGITS,
        matches="jax-logits",
    ),
    F.reference("NumPy float64, BCE from logits: the ground truth", _LOGITS, requires=()),
)

WORKLOAD = F.workload(
    name="seed-bce",
    question="Why does one 784-1000-1 sigmoid MLP, from the same weights, reach 0.909 in Keras-TF but "
    "0.5-0.79 with a hand-written or clipped BCE in JAX?",
    sources=("the seed report (shared/peer/seed_script.py)", "keras-team/keras#15249"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=False),
    training=Training(steps=10, lr=0.01),
    model=F.model(
        PARAMS,
        "sigmoid",
        "relu",
        f64_loss_and_grad=F.ref("f64", "loss_and_grad"),
        f64_forward=F.ref("f64", "forward"),
        torch_apply=F.torch("apply"),
    ),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-logits",
)
