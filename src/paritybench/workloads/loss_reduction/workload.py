"""loss-reduction: how a class-weighted loss is averaged. Keras's ``fit(class_weight=cw)`` turns the class
weights into per-sample weights (``keras/src/trainers/data_adapters/data_adapter_utils.py:120``,
``class_weight_to_sample_weights``) and its losses reduce with ``"sum_over_batch_size"``
(``keras/src/losses/loss.py:46``): ``sum(w_i l_i) / n``, the batch size (``reduce_values``, :149-159; the
sample weights multiply the losses in ``reduce_weighted_values``, :184-193). torch's
``nn.CrossEntropyLoss(weight=cw)`` on class-index targets divides by the sum of the weights used,
``sum(w_i l_i) / sum(w_i)`` (``torch/nn/modules/loss.py``, the class-index case of ``CrossEntropyLoss``'s
docstring), as Keras's ``reduction="mean_with_sample_weight"`` does (loss.py:150-151). A port of a Keras
model trained with ``class_weight`` that writes torch's weighted CE (or the same "weighted mean" in JAX)
takes steps ``n / sum(w_i)`` times Keras's. With one-hot (class-probability) targets torch's weighted
``"mean"`` divides by ``n`` again (the probability case of the same docstring; measured, test), so in torch
the reduction depends on the targets' format.

Full-batch, the ratio is one constant per window, ``mean(w_i)``: for plain SGD the port is Keras at the
learning rate ``lr / mean(w_i)`` (exact in float64, test). "Balanced" weights (``n / (k count_c)``, sklearn's
``compute_class_weight``) make ``sum(w_i) = n`` on the data they were computed on, and the conventions agree
there; with minibatches the divisor ``sum(w_i)`` changes from batch to batch.

Why this setting: 784-32-10 tanh with a softmax output on MNIST scaled to [0, 1], Keras's initial weights,
10 full-batch SGD steps at lr 0.1, class weight 5 on the digit 9 (a user who cares about one class) and 1
elsewhere: on window 0, ``mean(w_i)`` is 1.4 (100 nines of 1000; test), so the port's steps are
1/1.4 = 0.714 of Keras's.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.arms import CE_RENORMALISED, JAX, keras_arm
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.loss_reduction.evidence import MEASURED

SIZES = (784, 32, 10)
PARAMS = dense_params(SIZES)
CLASS_WEIGHT = (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 5.0)  # digit -> weight: fit(class_weight={9: 5.0})
F = Folder("paritybench.workloads.loss_reduction")

KERAS = {"loss reduction": "sum(w_i l_i) / n (Keras sum_over_batch_size with class_weight)"}
TORCH = {"loss reduction": "sum(w_i l_i) / sum(w_i) (torch CrossEntropyLoss(weight) 'mean' on class indices)"}

ARMS = (
    F.port(
        "jax-weighted-mean",
        "literal port: torch's weighted CE in JAX, sum(w l) / sum(w) from logits",
        "weighted_mean",
        {**TORCH, "loss path": "from logits"},
        emulates="keras-tensorflow-mean-with-sample-weight",
    ),
    *F.ce_fix(
        "jax-sum-over-batch",
        "the fix: Keras's reduction, mean(w * l) = sum(w l) / n, from logits",
        "weighted",
        KERAS,
        loss_paths=CE_RENORMALISED,
        descriptions=(
            "Keras-JAX's update: mean(w * l), CE on clipped probabilities",
            "Keras-torch's update: mean(w * l), CE with torch's clamp",
        ),
        emulation_requires=JAX,
    ),
    F.torch_port(
        "torch-ce-weight",
        "native torch: nn.CrossEntropyLoss(weight=cw) on class indices, 'mean' = sum(w l) / sum(w)",
        "ce_weight",
        {**TORCH, "loss path": "from logits"},
        matches="jax-weighted-mean",
    ),
    F.torch_fix(
        "torch-ce-weight-onehot",
        "native torch: nn.CrossEntropyLoss(weight=cw) on one-hot targets, 'mean' = sum(w l) / n",
        "ce_weight_onehot",
        {**KERAS, "loss path": "from logits"},
        matches="jax-sum-over-batch",
    ),
    *F.ce_keras_arms(
        ", class_weight={9: 5}",
        conventions=KERAS,
    ),
    keras_arm(
        "tensorflow",
        'CategoricalCrossentropy(reduction="mean_with_sample_weight"): torch\'s reduction written in Keras',
        F.keras("loss_mean_with_sample_weight"),
        name="keras-tensorflow-mean-with-sample-weight",
        setting=", class_weight={9: 5}, mean_with_sample_weight",
        conventions=TORCH,
    ),
    F.reference(
        "float64, Keras's class-weighted reduction (the model being ported), CE from logits",
        {**KERAS, "loss path": "from logits"},
        loss="weighted",
    ),
)

WORKLOAD = F.workload(
    name="loss-reduction",
    question="Does a port of a Keras model trained with class_weight that writes torch's weighted CE "
    "(divided by the sum of the weights) train like Keras (divided by the batch size)?",
    sources=("pytorch/pytorch#61309", "pytorch/pytorch#50528", "pytorch/pytorch#65329", "keras/src/losses/loss.py"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=F.model(PARAMS, "softmax", "tanh", torch_apply=F.torch("apply"), torch_layers=F.torch("layers")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-sum-over-batch",
)
