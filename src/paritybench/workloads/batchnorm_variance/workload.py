"""batchnorm-variance: torch's BatchNorm keeps the UNBIASED batch variance in its running variance, Keras's
BatchNormalization the biased one. A torch port of a Keras model whose momentum and epsilon are translated
correctly (``BatchNorm1d(momentum=1 - 0.99, eps=1e-3)``, batchnorm-momentum's fix) still evaluates with a
running variance that takes ``var * n / (n - 1)`` at every update.

The mechanism, from the sources:

- Keras 3 (``keras/src/layers/normalization/batch_normalization.py`` :364-391): in training,
  ``mean, variance = self._moments(inputs, mask)`` (``ops.moments``: ``jnp.var`` in
  ``keras/src/backend/jax/nn.py`` :1054, ``E[x^2] - E[x]^2`` in ``keras/src/backend/torch/nn.py`` :980, both
  biased), then ``moving_variance = moving_variance * momentum + variance * (1 - momentum)``: the variance
  that normalises the batch is the one averaged.
- torch (``torch/nn/modules/batchnorm.py`` :321-324, the class docstring): "At train time in the forward
  pass, the variance is calculated via the biased estimator ... However, the value stored in the moving average
  of the variance is calculated via the unbiased estimator"; ``running_var = (1 - momentum) * running_var +
  momentum * var * n / (n - 1)`` (aten ``batch_norm_cpu_update_stats_template``).

So training is the same update on both sides (the batch's biased statistics normalise it); only the running
variance, and with it evaluation mode, differs. Per update the batch term is ``n / (n - 1)`` times Keras's:
x 8/7 = 1.143 at batch 8 (exact, test); after k updates from variance 1 the gap in the running variance is
``(1 - keep^k) * (1 / (n - 1))`` of the averaged batch variance.

Why this setting: batchnorm-momentum's model with 32 hidden units (784-32-BN-ReLU-10 softmax, pixels in
[0, 1], Keras's defaults: glorot_uniform, BN gamma 1 / beta 0, moving mean 0 / variance 1, momentum 0.99,
epsilon 1e-3) in batches of 8 (n/(n-1) = 1.143; at batch 64 it is 1.016), n 512 in order (64 batches per
epoch), 64 SGD steps (one epoch) at lr 0.1. After 64 updates the moving averages hold 0.99^64 = 53% of their
initial (0, 1), so 47% is batch statistics and the torch port's running variance is larger by 47% / 7 of the
averaged batch variance. 32 hidden units keep the artifact's per-step moving statistics small.
Evaluation is inference mode on the 1000 samples after the window (``Data.holdout``).
Measured figures: docs/catalogue.md (generated from) ``results/baselines/batchnorm-variance-cpu.json``.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.batchnorm_variance.evidence import MEASURED
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import bn_params, bn_state

INPUT_DIM, HIDDEN, CLASSES = 784, 32, 10
BATCH = 8
KERAS_MOMENTUM, EPSILON = 0.99, 1e-3  # keras/src/layers/normalization/batch_normalization.py defaults
# torch's momentum is the share of the new batch taken (torch/nn/modules/batchnorm.py): Keras's 0.99 translated
TORCH_MOMENTUM = 1.0 - KERAS_MOMENTUM
F = Folder("paritybench.workloads.batchnorm_variance")

PARAMS = bn_params(INPUT_DIM, HIDDEN, CLASSES)
STATE, STATE_INIT = bn_state(HIDDEN)  # torch's running statistics start alike

_AVERAGE = {
    "moving average": f"new = {KERAS_MOMENTUM}*old + {TORCH_MOMENTUM:.2f}*batch",
    "epsilon": EPSILON,
}
_BIASED = {**_AVERAGE, "moving variance": "biased batch variance (the one that normalised the batch)"}
_UNBIASED = {**_AVERAGE, "moving variance": f"unbiased batch variance: x n/(n-1) = x {BATCH}/{BATCH - 1}"}

ARMS = (
    F.port(
        "jax-unbiased-var",
        f"the torch port in JAX: Keras's momentum and epsilon, running variance unbiased (x {BATCH}/{BATCH - 1})",
        "logits",
        {**_UNBIASED, "loss path": "from logits"},
        jax_apply=F.jax("apply_unbiased"),
    ),
    *F.keras_bn_fix("the fix: Keras's BatchNormalization (biased moving variance), CE from logits", _BIASED),
    F.torch_port(
        "torch-bn",
        f"native torch: F.batch_norm(momentum={TORCH_MOMENTUM:.2f}, eps={EPSILON:g}), Keras's settings translated; "
        "its running variance is the unbiased one",
        "ce_logits",
        _UNBIASED,
        matches="jax-unbiased-var",
    ),
    F.torch_fix(
        "torch-bn-biased",
        "torch fixed: F.batch_norm without running statistics, the moving averages updated by hand with "
        "the biased variance",
        "ce_logits",
        _BIASED,
        torch_apply=F.torch("apply_biased"),
        matches="jax-keras-bn",
    ),
    *F.keras_bn_arms(_BIASED),
)

WORKLOAD = F.workload(
    name="batchnorm-variance",
    question="Does a torch port of a Keras BatchNormalization, momentum and epsilon translated, evaluate like "
    "Keras, whose moving variance is the biased batch variance?",
    sources=(
        "pytorch/pytorch#60528",
        "rwth-i6/returnn#1539",
        "tensorflow/tensorflow#55545",
        "keras/src/layers/normalization/batch_normalization.py",
        "torch/nn/modules/batchnorm.py",
    ),
    data=Data(dataset="mnist", labels="onehot10", n=512, normalize=True, batch_size=BATCH, holdout=1000),
    training=Training(steps=64, lr=0.1),
    model=F.model(PARAMS, "softmax", state=STATE, state_init=STATE_INIT, torch_apply=F.torch("apply")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-keras-bn",
)
