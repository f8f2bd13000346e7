"""mixed-precision: Keras's ``mixed_bfloat16`` dtype policy keeps every variable in float32 and computes in
bfloat16 (``keras/src/dtype_policies/dtype_policy.py``: variable dtype float32, compute dtype bfloat16); the
optimizer updates the float32 variables, so the weights are float32 "master weights" and only the forward and
backward passes round to bfloat16. A JAX port that casts its parameters to bfloat16 (``p.astype(bfloat16)``)
and trains them keeps no float32 copy: every SGD update is rounded to the weight's bfloat16 grid (8-bit
significand), and an update smaller than half a bf16 ulp of the weight is lost. The fix keeps float32 weights
and casts them to bfloat16 in the forward pass, as the policy does (``jax_model.apply_mixed``).

Measured (``tests/test_workload_mixed_precision.py``): at the first step, of the kernel entries the fix moves,
the bf16-weights port leaves 77.9% of dense_0's and 88.1% of dense_1's at bf16(w0); after the 20 steps it is
8.3e-3 from the float64 arbiter, the fix 1.5e-5 (bfloat16 compute), a float32 port 1.2e-7. The fix is
bit-identical to Keras-JAX at step 1. Keras-TF's bias gradients are 3e-3 off it at step 1: TensorFlow's CPU
``BiasAddGrad`` (Keras-TF's Dense adds its bias with ``tf.nn.bias_add``, ``keras/src/backend/tensorflow/
numpy.py:129``) sums a bfloat16 gradient over the batch in bfloat16, row by row (bit-identical, measured on
this step's gradient; ``jax_model.bias_add_tf``, the ``jax-mixed-bf16-tf`` emulation, takes Keras-TF to 4.9e-5
at step 1). What remains between Keras-TF or Keras-torch and their emulations (4.9e-5 at step 1) is the
rounding of bfloat16 matmuls and their gradients to bfloat16 after another summation order.

Why this setting: 784-32-10 tanh MLP on MNIST scaled to [0, 1], Keras's defaults (glorot_uniform kernels,
zero biases), categorical CE on a float32 softmax, 20 full-batch SGD steps at lr 0.01: the updates
(lr * g ~ 1e-5..1e-4) are below half a bf16 ulp of most kernel entries (2.4e-4 at |w| in [0.0625, 0.125)),
so rounding decides whether a weight moves.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.arms import CE_RENORMALISED, JAX
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.mixed_precision.evidence import MEASURED

SIZES = (784, 32, 10)
PARAMS = dense_params(SIZES)
POLICY = "mixed_bfloat16"
F = Folder("paritybench.workloads.mixed_precision")

MIXED = "mixed_bfloat16: float32 variables (master weights), bfloat16 compute"
BF16 = "bfloat16 weights, bfloat16 compute, no float32 master copy"
F32 = "float32 weights and compute"

ARMS = (
    F.port(
        "jax-bf16-weights",
        "literal port: params cast to bfloat16 and trained as such (no float32 master weights), CE from logits",
        "logits",
        {"dtype policy": BF16, "loss path": "from logits"},
        optimizer="bf16_sgd",
        jax_apply=F.jax("apply_mixed"),
    ),
    F.fix(
        "jax-mixed-bf16",
        "the fix: float32 weights cast to bfloat16 in the forward pass, float32 SGD update, CE from logits",
        "logits",
        {"dtype policy": MIXED, "loss path": "from logits"},
        emulates=None,
        jax_apply=F.jax("apply_mixed"),
    ),
    *F.ce_fix_emulations(
        "jax-mixed-bf16",
        {"dtype policy": MIXED},
        CE_RENORMALISED,
        requires=JAX,
        jax_apply=F.jax("apply_mixed"),
    ),
    F.jax_arm(
        "jax-mixed-bf16-tf",
        "Keras-TF's update: the fix with each bias gradient summed in bfloat16 row by row (TF's CPU "
        "BiasAddGrad), CE from logits",
        "logits",
        role="emulation",
        emulates="keras-tensorflow",
        requires=JAX,
        jax_apply=F.jax("apply_mixed_tf"),
        conventions={"dtype policy": MIXED, "bias gradient": "summed in bfloat16", "loss path": "from logits"},
    ),
    F.port(
        "jax-float32",
        "a port that drops the policy: float32 weights and compute, CE from logits",
        "logits",
        {"dtype policy": F32, "loss path": "from logits"},
    ),
    *F.ce_keras_arms(
        ', Dense(dtype="mixed_bfloat16")',
        tensorflow="CE from the cached float32 logits",
        torch="CE on clamped probabilities",
        conventions={"dtype policy": MIXED},
    ),
    F.reference(
        "float64 throughout (the model without rounding), CE from logits",
        {"dtype policy": "float64 weights and compute", "loss path": "from logits"},
    ),
)

WORKLOAD = F.workload(
    name="mixed-precision",
    question="Does a JAX port that casts its parameters to bfloat16 train like Keras's mixed_bfloat16 policy, "
    "which computes in bfloat16 but keeps float32 master weights?",
    sources=(
        "workofart/ml-by-hand#85",
        "jax-ml/jax#30337",
        "tensorflow/tensorflow#86378",
        "tensorflow/tensorflow#115731",
    ),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=20, lr=0.01),
    model=F.model(PARAMS, "softmax"),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-mixed-bf16",
)
