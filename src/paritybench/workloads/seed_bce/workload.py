"""seed-bce: the seed question. A 784-1000-1 MLP on raw-pixel MNIST, same weights,
10 full-batch SGD steps: why does Keras-TF reach 0.909 while a JAX port reaches 0.5-0.79?

The answer: Keras's TensorFlow backend quietly computes the BCE from the logits
behind the sigmoid (``_keras_logits``), while a loss written on the probability
saturates (log(0), or a clip whose gradient is zero for every saturated sample).
Figures measured on the seed preset (seed 0, window 0) on a 2-core Xeon with
AVX-512, jax 0.12.0.1, tensorflow 2.21.0, keras 3.15.1 (``evidence.py``).
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training, Workload
from paritybench.workloads.kit import arms as kit
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.seed_bce.evidence import MEASURED

SIZES = (784, 1000, 1)
INPUT_DIM, HIDDEN = SIZES[0], SIZES[1]
PARAMS = dense_params(SIZES)
_P = "paritybench.workloads.seed_bce"
_JAX = f"{_P}.jax_model"
_CLIP = "sigmoid probabilities clipped to [1e-7, 1-1e-7]"

ARMS = (
    kit.jax_arm(
        "jax-naive",
        "the seed's first BCE on sigmoid outputs (log of a saturated p)",
        "naive",
        _JAX,
        requires=kit.JAX,
        role="port",
        conventions={"loss path": "log of sigmoid probabilities, no clip"},
    ),
    kit.jax_arm(
        "jax-seed-stable",
        "the seed's clipped 'stable' BCE: p clipped to [1e-6, 1-1e-7]",
        "seed_stable",
        _JAX,
        requires=kit.JAX,
        role="port",
        conventions={"loss path": "sigmoid probabilities clipped to [1e-6, 1-1e-7]"},
    ),
    *kit.keras_emulations(
        _JAX,
        ("jax-keras-clip", "Keras's JAX/torch probability path: p clipped to [1e-7, 1-1e-7]", {"loss path": _CLIP}),
        (
            "jax-keras-torch-clip",
            "Keras's torch path in JAX: the same clip with torch 2.15's gradient",
            {"loss path": f"{_CLIP}, torch 2.15 gradient"},
        ),
        requires=kit.JAX,
    ),
    kit.jax_arm(
        "jax-logits",
        "BCE from logits (optax.sigmoid_binary_cross_entropy): the fix",
        "logits",
        _JAX,
        role="fix",
        emulates="keras-tensorflow",
        conventions={"loss path": "from logits"},
    ),
    *kit.keras_arms(
        f"{_P}.keras_model:loss",
        {
            "tensorflow": "BCE from the logits its sigmoid output caches (_keras_logits)",
            "jax": "BCE on p clipped to [1e-7, 1-1e-7] (no logits cache on this backend)",
            "torch": "BCE on p clipped to [1e-7, 1-1e-7] via torch's binary_cross_entropy",
        },
    ),
    kit.torch_arm(
        "torch-bce",
        "native torch: F.binary_cross_entropy on sigmoid probabilities (each log clamped at -100)",
        "bce",
        f"{_P}.torch_model",
        role="port",
        conventions={"loss path": "log of sigmoid probabilities, each log clamped at -100 (aten)"},
    ),
    kit.torch_arm(
        "torch-bce-logits",
        "native torch: F.binary_cross_entropy_with_logits, the fix in torch",
        "bce_logits",
        f"{_P}.torch_model",
        role="fix",
        matches="jax-logits",
        conventions={"loss path": "from logits"},
    ),
    kit.reference_f64(
        "NumPy float64, BCE from logits: the ground truth",
        f"{_JAX}:logits",
        requires=(),
        conventions={"loss path": "from logits", "dtype": "float64"},
    ),
)

WORKLOAD = Workload(
    name="seed-bce",
    version="1",
    question="Why does one 784-1000-1 sigmoid MLP, from the same weights, reach 0.909 in Keras-TF but "
    "0.5-0.79 with a hand-written or clipped BCE in JAX?",
    sources=("the seed report (shared/peer/seed_script.py)", "keras-team/keras#15249"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=False),
    training=Training(steps=10, lr=0.01),
    model=kit.folder_model(
        _P,
        PARAMS,
        "sigmoid",
        jax_layers=f"{_JAX}:layers",
        keras_layers={"dense_0/relu": 0},
        f64_loss_and_grad=f"{_P}.f64:loss_and_grad",
        f64_forward=f"{_P}.f64:forward",
        torch_apply=f"{_P}.torch_model:apply",
    ),
    arms=kit.with_evidence(ARMS, MEASURED),
    fix="jax-logits",
)
