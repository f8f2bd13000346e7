"""batchnorm-momentum: Keras's ``BatchNormalization(momentum=0.99)`` keeps 99% of the old moving average per
step; torch's ``BatchNorm1d(momentum=0.1)`` takes 10% of the new batch statistic (and its running variance is
the unbiased one); epsilon is 1e-3 in Keras, 1e-5 in torch and flax. A port that copies the number (0.1 into a
Keras-convention formula, huggingface/transformers#19454) or writes BN the torch way trains identically (the
training forward pass uses the batch's own statistics) but evaluates with other moving statistics.

Why this setting: 784-64-BN-ReLU-10 softmax on pixels in [0, 1], Keras's defaults throughout (glorot_uniform,
BN gamma 1 / beta 0, moving mean 0 / variance 1), n 512 in batches of 64 in order (8 batches per epoch),
16 SGD steps (two epochs) at lr 0.1 (SGD's usual rate with BN; at Keras's default 0.01 the model is still at
~0.44 training accuracy after 16 steps, measured). Two epochs is short but common for fine-tuning and quick
experiments, and it is where the conventions part: after 16 updates Keras's averages still hold
0.99^16 = 85% of their initial (0, 1), so evaluation mode normalises with mostly the initial statistics,
while the port's (momentum 0.1 kept) are essentially the last batch's. The gap is in evaluation mode on the
1000 samples after the window (``Data.holdout``), with training accuracy equal; with many more steps the
Keras averages converge and the gap narrows to the last-batch noise of the port's.
Measured figures: docs/catalogue.md (generated from) ``results/baselines/batchnorm-momentum-cpu.json``.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.batchnorm_momentum.evidence import MEASURED
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import bn_params, bn_state

INPUT_DIM, HIDDEN, CLASSES = 784, 64, 10
KERAS_MOMENTUM, KERAS_EPSILON = 0.99, 1e-3  # keras/src/layers/normalization/batch_normalization.py defaults
TORCH_MOMENTUM, TORCH_EPSILON = 0.1, 1e-5  # torch/nn/modules/batchnorm.py defaults (flax: epsilon 1e-5 too)
F = Folder("paritybench.workloads.batchnorm_momentum")

PARAMS = bn_params(INPUT_DIM, HIDDEN, CLASSES)
STATE, STATE_INIT = bn_state(HIDDEN)

_KERAS_BN = {
    "moving average": f"new = {KERAS_MOMENTUM}*old + {1 - KERAS_MOMENTUM:.2f}*batch (Keras momentum "
    f"{KERAS_MOMENTUM} = share kept)",
    "epsilon": KERAS_EPSILON,
    "moving variance": "biased batch variance",
}


_TORCH_BN = {
    "moving average": f"new = {1 - TORCH_MOMENTUM:.1f}*old + {TORCH_MOMENTUM}*batch (torch "
    f"momentum {TORCH_MOMENTUM} = share taken)",
    "epsilon": TORCH_EPSILON,
    "moving variance": "unbiased batch variance (n/(n-1))",
}

ARMS = (
    F.port(
        "jax-momentum-literal",
        "literal port: torch's momentum=0.1 in a Keras-convention BN (keeps 10% of the old average), Keras's epsilon",
        "logits",
        {
            "moving average": f"new = {TORCH_MOMENTUM}*old + {1 - TORCH_MOMENTUM:.1f}*batch",
            "epsilon": KERAS_EPSILON,
            "moving variance": "biased batch variance",
        },
        jax_apply=F.jax("apply_momentum_literal"),
    ),
    F.port(
        "jax-torch-bn",
        "port written the torch way: takes 10% of the new batch, unbiased running variance, epsilon 1e-5",
        "logits",
        _TORCH_BN,
        jax_apply=F.jax("apply_torch"),
    ),
    *F.keras_bn_fix(
        "the fix: Keras's convention (keeps 99%, epsilon 1e-3, biased variance), CE from logits", _KERAS_BN
    ),
    F.torch_port(
        "torch-bn",
        f"native torch: F.batch_norm(momentum={TORCH_MOMENTUM}, eps={TORCH_EPSILON:g}), torch's "
        "defaults, CE from logits",
        "ce_logits",
        _TORCH_BN,
        matches="jax-torch-bn",
    ),
    *F.keras_bn_arms(_KERAS_BN),
)

WORKLOAD = F.workload(
    name="batchnorm-momentum",
    question="Does a JAX port of a Keras model with BatchNormalization, written with torch's momentum convention, "
    "train and evaluate like Keras?",
    sources=(
        "pytorch/examples#289",
        "huggingface/transformers#19454",
        "keras/src/layers/normalization/batch_normalization.py",
        "torch/nn/modules/batchnorm.py",
    ),
    data=Data(dataset="mnist", labels="onehot10", n=512, normalize=True, batch_size=64, holdout=1000),
    training=Training(steps=16, lr=0.1),
    model=F.model(PARAMS, "softmax", state=STATE, state_init=STATE_INIT, torch_apply=F.torch("apply")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-keras-bn",
)
