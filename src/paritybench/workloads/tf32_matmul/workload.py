"""tf32-matmul: on NVIDIA GPUs (Ampere and later) float32 matmuls may run in TF32 (10-bit mantissa).

Defaults (read in the installed sources): JAX's ``Precision.DEFAULT`` "uses
tensorfloat32 if available" on GPU and ``jax_default_matmul_precision`` is None by default;
TensorFlow enables TF32 by default; torch runs matmuls in full float32 by default since 1.12
(``torch.backends.cuda.matmul.allow_tf32 == False``) but cuDNN convolutions in TF32.

The model: a matmul-heavy 784-512-512-1 ReLU MLP on normalized MNIST, digit >= 5, 10 full-batch
SGD steps at lr 0.1, every arm from the same weights. Arms: the JAX port at default precision
(asked for per dot, ``precision=Precision.DEFAULT``, because paritybench's deterministic flags set
``JAX_DEFAULT_MATMUL_PRECISION=highest`` for the process; a GPU-only arm, skipped on a CPU with
the reason, where DEFAULT and HIGHEST are the same float32 dot), the fix at
``Precision.HIGHEST``, each Keras backend, their JAX emulations and the float64 arbiter. On a CPU
the CPU arms are the control: they agree with float64 to rounding.

On a GPU: compare ``jax-default-precision`` with ``jax-highest`` and ``reference-f64``. Run it with
and without ``--no-deterministic``: the deterministic flags also set ``NVIDIA_TF32_OVERRIDE=0``,
which turns TF32 off inside cuBLAS/cuDNN for every library (TensorFlow, torch) but not in a dot
XLA emits itself. Measured on an H200 (results/baselines/tf32-matmul-gpu*.json): without the flags
``jax-default-precision`` and Keras-JAX end step 1 1.26e-5 from float64 (``jax-highest`` 3.8e-9;
final accuracy 0.772 for all); ``NVIDIA_TF32_OVERRIDE=0`` alone leaves 6.8e-6; with every
deterministic flag DEFAULT is bit-identical to HIGHEST; ``torch-default`` stays full float32 (torch's
``allow_tf32`` is False by default, read back).
"""

from __future__ import annotations

from paritybench.workloads import evidence
from paritybench.workloads.base import Arm, Data, Model, Training, Workload

INPUT_DIM = 784
HIDDEN = 512
_P = "paritybench.workloads.tf32_matmul"
_SEED = "paritybench.workloads.seed_bce"

PARAMS = {
    "dense_0/kernel": (INPUT_DIM, HIDDEN),
    "dense_0/bias": (HIDDEN,),
    "dense_1/kernel": (HIDDEN, HIDDEN),
    "dense_1/bias": (HIDDEN,),
    "dense_2/kernel": (HIDDEN, 1),
    "dense_2/bias": (1,),
}


def _jax_arm(name: str, description: str, loss: str, **kw) -> Arm:
    requires = kw.pop("requires", ("jax", "optax"))
    return Arm(name, description, "jax", loss, loss_fn=f"{_SEED}.jax_model:{loss}", requires=requires, **kw)


def _keras_arm(backend: str, why: str, **kw) -> Arm:
    return Arm.keras(backend, why, f"{_SEED}.keras_model:loss", **kw)


ARMS = (
    _jax_arm(
        "jax-default-precision",
        "JAX at Precision.DEFAULT on every dot: TF32 on an Ampere+ GPU",
        "logits",
        role="port",
        requires=("jax", "optax", "gpu"),
        jax_apply=f"{_P}.jax_model:apply_default",
        conventions={"matmul precision": "DEFAULT (TF32 on GPU)"},
    ),
    _jax_arm(
        "jax-highest",
        "JAX at Precision.HIGHEST on every dot: full float32, the fix",
        "logits",
        role="fix",
        emulates="keras-tensorflow",
        conventions={"matmul precision": "HIGHEST"},
    ),
    _jax_arm(
        "jax-highest-keras-clip",
        "Keras-JAX in JAX: HIGHEST, BCE on p clipped to [1e-7, 1-1e-7]",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        conventions={"matmul precision": "HIGHEST", "loss path": "sigmoid probabilities clipped"},
    ),
    _jax_arm(
        "jax-highest-keras-torch-clip",
        "Keras-torch in JAX: HIGHEST, torch's clipped BCE",
        "keras_torch_clip",
        role="emulation",
        emulates="keras-torch",
        conventions={"matmul precision": "HIGHEST", "loss path": "sigmoid probabilities clamped"},
    ),
    _keras_arm("tensorflow", "TF32 on by default on a GPU (off under NVIDIA_TF32_OVERRIDE=0)"),
    _keras_arm("jax", "the process's default matmul precision (highest under paritybench's flags)"),
    _keras_arm("torch", "torch matmuls full float32 by default since 1.12"),
    Arm(
        "torch-default",
        "native torch with torch's own float32 matmul default (TF32 off since 1.12), BCE from logits",
        "torch",
        "torch:bce_logits",
        torch_loss=f"{_SEED}.torch_model:bce_logits",
        torch_apply=f"{_P}.torch_model:apply",
        requires=("torch",),
        role="fix",
        matches="jax-highest",
        conventions={"matmul precision": "torch's default (allow_tf32 False since 1.12)"},
    ),
    Arm(
        "reference-f64",
        "JAX in float64, BCE from logits: the ground truth",
        "f64",
        "logits_f64",
        loss_fn=f"{_SEED}.jax_model:logits",
        requires=("jax", "optax"),
        role="reference",
        evidence="float64 throughout: float32 rounding never reaches it",
        conventions={"loss path": "from logits", "dtype": "float64"},
    ),
)

WORKLOAD = Workload(
    name="tf32-matmul",
    version="1",
    question="How far does a float32 MLP trained with TF32 matmuls (JAX's default precision on an Ampere+ GPU) "
    "drift from the same model at full float32 precision?",
    sources=("pytorch/pytorch#107514", "jax-ml/jax#12008"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=Model(
        params=PARAMS,
        head="sigmoid",
        init=f"{_P}.jax_model:init",
        jax_apply=f"{_P}.jax_model:apply_highest",
        keras_build=f"{_P}.keras_model:build",
    ),
    arms=evidence.apply("tf32-matmul", ARMS),  # measured sensitivity classes (workloads/evidence.py)
    fix="jax-highest",
)
