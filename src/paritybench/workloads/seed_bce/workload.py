"""seed-bce: the seed question. A 784-1000-1 MLP on raw-pixel MNIST, same weights,
10 full-batch SGD steps: why does Keras-TF reach 0.909 while a JAX port reaches 0.5-0.79?

The answer: Keras's TensorFlow backend quietly computes the BCE from the logits
behind the sigmoid (``_keras_logits``), while a loss written on the probability
saturates (log(0), or a clip whose gradient is zero for every saturated sample).
Figures measured on the seed preset (seed 0, window 0) on a 2-core Xeon with
AVX-512, jax 0.12.0.1, tensorflow 2.21.0, keras 3.15.1.
"""

from __future__ import annotations

from paritybench.workloads.base import Arm, Data, Model, Training, Workload

INPUT_DIM = 784
HIDDEN = 1000
_P = "paritybench.workloads.seed_bce"

PARAMS = {
    "dense_0/kernel": (INPUT_DIM, HIDDEN),
    "dense_0/bias": (HIDDEN,),
    "dense_1/kernel": (HIDDEN, 1),
    "dense_1/bias": (1,),
}


def _jax_arm(name: str, description: str, loss: str, **kw) -> Arm:
    requires = ("jax", "optax") if loss == "logits" else ("jax",)
    return Arm(name, description, "jax", loss, loss_fn=f"{_P}.jax_model:{loss}", requires=requires, **kw)


def _keras_arm(backend: str, why: str, **kw) -> Arm:
    return Arm.keras(backend, why, f"{_P}.keras_model:loss", **kw)


ARMS = (
    _jax_arm(
        "jax-naive",
        "the seed's first BCE on sigmoid outputs (log of a saturated p)",
        "naive",
        role="port",
        # log(0) at step 0 for every saturated sample: the loss is inf, the gradient NaN and every
        # weight NaN from step 1, on every machine. Stable, but only NaN-aware comparisons see it.
        evidence="NaN from step 0 on every machine measured (CPU, H200)",
        conventions={"loss path": "log of sigmoid probabilities, no clip"},
    ),
    _jax_arm(
        "jax-seed-stable",
        "the seed's clipped 'stable' BCE: p clipped to [1e-6, 1-1e-7]",
        "seed_stable",
        role="port",
        expected="chaotic",
        evidence="final accuracy 0.567-0.819 over 32 one-ulp copies (sensitivity-cpu.json)",
        conventions={"loss path": "sigmoid probabilities clipped to [1e-6, 1-1e-7]"},
    ),
    _jax_arm(
        "jax-keras-clip",
        "Keras's JAX/torch probability path: p clipped to [1e-7, 1-1e-7]",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        expected="chaotic",
        evidence="final accuracy 0.510-0.817 over 32 one-ulp copies (sensitivity-cpu.json)",
        conventions={"loss path": "sigmoid probabilities clipped to [1e-7, 1-1e-7]"},
    ),
    _jax_arm(
        "jax-keras-torch-clip",
        "Keras's torch path in JAX: the same clip with torch 2.15's gradient",
        "keras_torch_clip",
        role="emulation",
        emulates="keras-torch",
        expected="chaotic",
        evidence="0.490-0.838 over 32 one-ulp copies (sensitivity-cpu.json, with torch 2.11's clip gradient)",
        conventions={"loss path": "sigmoid probabilities clipped to [1e-7, 1-1e-7], torch 2.15 gradient"},
    ),
    _jax_arm(
        "jax-logits",
        "BCE from logits (optax.sigmoid_binary_cross_entropy): the fix",
        "logits",
        role="fix",
        emulates="keras-tensorflow",
        evidence="0.909 on every one-ulp copy; within 2.4e-6 of keras-tensorflow after 10 steps",
        conventions={"loss path": "from logits"},
    ),
    _keras_arm(
        "tensorflow",
        "BCE from the logits its sigmoid output caches (_keras_logits)",
        evidence="within 2.4e-6 of jax-logits after 10 steps: rounding, not chaos",
    ),
    _keras_arm(
        "jax",
        "BCE on p clipped to [1e-7, 1-1e-7] (no logits cache on this backend)",
        expected="chaotic",
        evidence="bit-identical to jax-keras-clip; 0.524-0.810 over 32 one-ulp copies",
    ),
    _keras_arm(
        "torch",
        "BCE on p clipped to [1e-7, 1-1e-7] via torch's binary_cross_entropy",
        expected="chaotic",
        evidence="0.494-0.793 over 32 one-ulp copies on an H200",
    ),
    Arm(
        "torch-bce",
        "native torch: F.binary_cross_entropy on sigmoid probabilities (each log clamped at -100)",
        "torch",
        "torch:bce",
        torch_loss=f"{_P}.torch_model:bce",
        requires=("torch",),
        role="port",
        evidence="0.490 on all 8 one-ulp copies (sensitivity --k 8, 2-core CPU, torch 2.15): the dead gradients "
        "are dead on every copy",
        conventions={"loss path": "log of sigmoid probabilities, each log clamped at -100 (aten)"},
    ),
    Arm(
        "torch-bce-logits",
        "native torch: F.binary_cross_entropy_with_logits, the fix in torch",
        "torch",
        "torch:bce_logits",
        torch_loss=f"{_P}.torch_model:bce_logits",
        requires=("torch",),
        role="fix",
        matches="jax-logits",
        evidence="0.909 on all 8 one-ulp copies (sensitivity --k 8, 2-core CPU, torch 2.15)",
        conventions={"loss path": "from logits"},
    ),
    Arm(
        "reference-f64",
        "NumPy float64, BCE from logits: the ground truth",
        "f64",
        "logits_f64",
        loss_fn=f"{_P}.jax_model:logits",
        role="reference",
        evidence="float64 throughout: float32 rounding never reaches it",
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
    model=Model(
        params=PARAMS,
        head="sigmoid",
        init=f"{_P}.jax_model:init",
        jax_apply=f"{_P}.jax_model:apply",
        jax_layers=f"{_P}.jax_model:layers",
        keras_layers={"dense_0/relu": 0},
        keras_build=f"{_P}.keras_model:build",
        f64_loss_and_grad=f"{_P}.f64:loss_and_grad",
        f64_forward=f"{_P}.f64:forward",
        torch_apply=f"{_P}.torch_model:apply",
    ),
    arms=ARMS,
    fix="jax-logits",
)
