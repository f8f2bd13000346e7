"""gpu-nondeterminism: scatter-adds run with atomics on GPUs, so two identical runs can differ.

The model: an embedding bag over binned pixels. Each of the 784 pixel positions, with its
intensity cut into 4 bins, is one token (3136 in all, ``position * 4 + bin``); a sample is the
sum of its 784 token embeddings (16-wide), then ReLU and Dense(1, sigmoid). Normalized MNIST,
digit >= 5, 10 full-batch SGD steps at lr 0.1, every arm from the same weights.

The gather that looks the embeddings up has a scatter-add as its gradient: 784,000 rows
added into 3136, most of them colliding. XLA on a GPU emits that scatter with atomic adds
unless ``--xla_gpu_deterministic_ops=true`` (paritybench's deterministic flags set it), and
float32 addition in the order the atomics land is not reproducible. TensorFlow has the same
switch for its embedding gradients (``TF_DETERMINISTIC_OPS``); torch's accumulating ``index_put_``
(the gradient of ``table[idx]``) is sorted on CUDA in every mode (``torch-gather``).

Arms: ``jax-scatter``, the bag as a port writes it (``table[idx].sum(1)``), a GPU-only arm
(skipped on a CPU with the reason, where XLA's scatter is sequential and deterministic);
``jax-onehot``, the same sum as a matmul of the one-hot bin counts with the table, whose
gradient is a matmul too: deterministic by construction, the fix that needs no flag; each
Keras backend (its Embedding layer); their JAX emulations; the float64 arbiter. The CPU arms
are the control.

How it is measured on a GPU: ``paritybench run --workload gpu-nondeterminism --repeat 2`` with
and without ``--no-deterministic``; the artifact's ``repeat`` section says per arm whether the
two runs' final weights are bit-identical, and how far apart they are. Measured on an H200
(results/baselines/gpu-nondeterminism-gpu*.json): without the flags ``jax-scatter`` and Keras-JAX
differ between two fresh processes (max |dw| 7.5e-9) while ``torch-gather``, Keras-torch and the
one-hot arms do not; with the flags every arm is bit-identical. Without the flags the one-hot fix
runs its matmul in TF32 (2.4e-5 from float64 after step 1): deterministic, not exact.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.gpu_nondeterminism.evidence import MEASURED
from paritybench.workloads.kit.folder import Folder

PIXELS = 784
BINS = 4
VOCAB = PIXELS * BINS
DIM = 16
F = Folder("paritybench.workloads.gpu_nondeterminism")
_ONEHOT = {"bag": "one-hot matmul"}

PARAMS = {
    "embedding/table": (VOCAB, DIM),
    "dense/kernel": (DIM, 1),
    "dense/bias": (1,),
}

ARMS = (
    F.port(
        "jax-scatter",
        "the bag as table[idx].sum(1): its gradient is a scatter-add (atomics on a GPU)",
        "logits",
        {"bag": "gather; gradient scatter-add"},
        requires=("jax", "optax", "gpu"),
        jax_apply=F.jax("apply_gather"),
    ),
    *F.bce_fix(
        "onehot", "one-hot bag", "the bag as one_hot(bins) @ table: matmuls both ways, deterministic, the fix", _ONEHOT
    ),
    *F.keras_arms(
        tensorflow="Embedding: gather, IndexedSlices gradient",
        jax="Embedding: take, scatter-add gradient",
        torch="Embedding: F.embedding, embedding_dense_backward gradient",
    ),
    F.torch_port(
        "torch-gather",
        "native torch: table[tokens].sum(1), BCE from logits; the table's gradient an indexed "
        "accumulation (index_put_, sorted on CUDA: deterministic)",
        "bce_logits",
        {"bag": "gather; gradient index_put_ accumulate"},
        torch_apply=F.torch("apply_gather"),
        matches="jax-onehot",
    ),
    F.reference(
        "JAX in float64, one-hot bag, BCE from logits: the ground truth", {**_ONEHOT, "loss path": "from logits"}
    ),
)

WORKLOAD = F.workload(
    name="gpu-nondeterminism",
    question="Do two identical GPU runs of a model whose gradient is a scatter-add (an embedding bag) give the "
    "same weights without deterministic ops, and with them?",
    sources=("tensorflow/tensorflow#2732", "pytorch/pytorch#17350"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=F.model(PARAMS, "sigmoid", jax_apply=F.jax("apply_onehot")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-onehot",
)
