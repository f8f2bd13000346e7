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

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.tf32_matmul.evidence import MEASURED

SIZES = (784, 512, 512, 1)
PARAMS = dense_params(SIZES)
F = Folder("paritybench.workloads.tf32_matmul")
_HIGHEST = {"matmul precision": "HIGHEST"}

ARMS = (
    F.port(
        "jax-default-precision",
        "JAX at Precision.DEFAULT on every dot: TF32 on an Ampere+ GPU",
        "logits",
        {"matmul precision": "DEFAULT (TF32 on GPU)"},
        requires=("jax", "optax", "gpu"),
        jax_apply=F.jax("apply_default"),
    ),
    *F.bce_fix("highest", "HIGHEST", "JAX at Precision.HIGHEST on every dot: full float32, the fix", _HIGHEST),
    *F.keras_arms(
        tensorflow="TF32 on by default on a GPU (off under NVIDIA_TF32_OVERRIDE=0)",
        jax="the process's default matmul precision (highest under paritybench's flags)",
        torch="torch matmuls full float32 by default since 1.12",
    ),
    F.torch_fix(
        "torch-default",
        "native torch with torch's own float32 matmul default (TF32 off since 1.12), BCE from logits",
        "bce_logits",
        {"matmul precision": "torch's default (allow_tf32 False since 1.12)"},
        torch_apply=F.torch("apply"),
        matches="jax-highest",
    ),
    F.reference("JAX in float64, BCE from logits: the ground truth", {"loss path": "from logits"}),
)

WORKLOAD = F.workload(
    name="tf32-matmul",
    question="How far does a float32 MLP trained with TF32 matmuls (JAX's default precision on an Ampere+ GPU) "
    "drift from the same model at full float32 precision?",
    sources=("pytorch/pytorch#107514", "jax-ml/jax#12008"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=F.model(PARAMS, "sigmoid", jax_apply=F.jax("apply_highest")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-highest",
)
