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
one-hot arms do not; with the flags every arm is bit-identical. The one-hot fix sets no matmul
precision of its own: it is full float32 only under paritybench's flags
(``JAX_DEFAULT_MATMUL_PRECISION=highest``); without them it runs in TF32 (2.4e-5 from float64 after
step 1): deterministic, not exact.
"""

from __future__ import annotations

from paritybench.workloads import evidence
from paritybench.workloads.base import Arm, Data, Model, Training, Workload

PIXELS = 784
BINS = 4
VOCAB = PIXELS * BINS
DIM = 16
_P = "paritybench.workloads.gpu_nondeterminism"
_SEED = "paritybench.workloads.seed_bce"

PARAMS = {
    "embedding/table": (VOCAB, DIM),
    "dense/kernel": (DIM, 1),
    "dense/bias": (1,),
}


def _jax_arm(name: str, description: str, loss: str, **kw) -> Arm:
    requires = kw.pop("requires", ("jax", "optax"))
    return Arm(name, description, "jax", loss, loss_fn=f"{_SEED}.jax_model:{loss}", requires=requires, **kw)


def _keras_arm(backend: str, why: str, **kw) -> Arm:
    return Arm.keras(backend, why, f"{_SEED}.keras_model:loss", **kw)


ARMS = (
    _jax_arm(
        "jax-scatter",
        "the bag as table[idx].sum(1): its gradient is a scatter-add (atomics on a GPU)",
        "logits",
        role="port",
        requires=("jax", "optax", "gpu"),
        jax_apply=f"{_P}.jax_model:apply_gather",
        conventions={"bag": "gather; gradient scatter-add"},
    ),
    _jax_arm(
        "jax-onehot",
        "the bag as one_hot(bins) @ table: matmuls both ways, deterministic, the fix",
        "logits",
        role="fix",
        emulates="keras-tensorflow",
        conventions={"bag": "one-hot matmul"},
    ),
    _jax_arm(
        "jax-onehot-keras-clip",
        "Keras-JAX in JAX: one-hot bag, BCE on p clipped to [1e-7, 1-1e-7]",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        conventions={"bag": "one-hot matmul", "loss path": "sigmoid probabilities clipped"},
    ),
    _jax_arm(
        "jax-onehot-keras-torch-clip",
        "Keras-torch in JAX: one-hot bag, torch's clipped BCE",
        "keras_torch_clip",
        role="emulation",
        emulates="keras-torch",
        conventions={"bag": "one-hot matmul", "loss path": "sigmoid probabilities clamped"},
    ),
    _keras_arm("tensorflow", "Embedding: gather, IndexedSlices gradient"),
    _keras_arm("jax", "Embedding: take, scatter-add gradient"),
    _keras_arm("torch", "Embedding: F.embedding, embedding_dense_backward gradient"),
    Arm(
        "torch-gather",
        "native torch: table[tokens].sum(1), BCE from logits; the table's gradient an indexed "
        "accumulation (index_put_, sorted on CUDA: deterministic)",
        "torch",
        "torch:bce_logits",
        torch_loss=f"{_SEED}.torch_model:bce_logits",
        torch_apply=f"{_P}.torch_model:apply_gather",
        requires=("torch",),
        role="port",
        matches="jax-onehot",
        conventions={"bag": "gather; gradient index_put_ accumulate"},
    ),
    Arm(
        "reference-f64",
        "JAX in float64, one-hot bag, BCE from logits: the ground truth",
        "f64",
        "logits_f64",
        loss_fn=f"{_SEED}.jax_model:logits",
        requires=("jax", "optax"),
        role="reference",
        evidence="float64 throughout: float32 rounding never reaches it",
        conventions={"bag": "one-hot matmul", "loss path": "from logits", "dtype": "float64"},
    ),
)

WORKLOAD = Workload(
    name="gpu-nondeterminism",
    version="1",
    question="Do two identical GPU runs of a model whose gradient is a scatter-add (an embedding bag) give the "
    "same weights without deterministic ops, and with them?",
    sources=("tensorflow/tensorflow#2732", "pytorch/pytorch#17350"),
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=Model(
        params=PARAMS,
        head="sigmoid",
        init=f"{_P}.jax_model:init",
        jax_apply=f"{_P}.jax_model:apply_onehot",
        keras_build=f"{_P}.keras_model:build",
    ),
    arms=evidence.apply("gpu-nondeterminism", ARMS),  # measured sensitivity classes (workloads/evidence.py)
    fix="jax-onehot",
)
