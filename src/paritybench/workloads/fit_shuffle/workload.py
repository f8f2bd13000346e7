"""fit-shuffle: Keras's ``fit`` shuffles by default (``shuffle=True``, ``keras/src/trainers/trainer.py``: ``fit``'s
signature, and each backend's own ``fit``, ``keras/src/backend/{jax,tensorflow,torch}/trainer.py``): every epoch's
minibatches are drawn in a new order. A JAX port that steps through the window in order (as a torch
``DataLoader``'s default ``shuffle=False`` does) trains on other batches from the first step on.

The mechanism, read in the installed source and measured:

- The order: ``fit`` builds an epoch iterator over an array adapter
  (``keras/src/trainers/data_adapters/array_data_adapter.py``). With ``shuffle=True`` it draws a permutation of all
  samples each time an epoch's iterator starts: ``np.random.permutation(n)`` from NumPy's global generator on
  the JAX backend (``_get_iterator``), ``tf.random.shuffle`` in a ``tf.data`` map on TensorFlow
  (``get_tf_dataset``), a ``RandomSampler`` (``torch.randperm``) on torch (``get_torch_dataloader``).
  ``keras.utils.set_random_seed(seed)`` seeds all three (``keras/src/utils/rng_utils.py``), so the order is
  reproducible within a backend and differs between them.
- The first ``fit`` of a freshly compiled model starts one iterator before its epochs, to build the loss and
  metrics symbolically (``Trainer._symbolic_build``, ``keras/src/trainers/trainer.py``), which takes the first
  permutation: on JAX, epoch e trains in ``np.random.RandomState(seed)``'s permutation e + 1
  (``arms.minibatch.numpy_fit_order``). Measured: batch-by-batch training in the order drawn so ends on the same
  weights, bit for bit, as ``fit(shuffle=True)`` itself on all three backends (``arms.keras_worker.fit_order``;
  ``tools/fit_order_check.py``).
- ``validation_split`` takes the LAST samples, before any shuffling (``array_slicing.train_validation_split``:
  ``split_at = floor(n * (1 - validation_split))``, the rows from ``split_at`` on; each backend's ``fit`` splits
  before it builds the epoch iterator). The preset's held-out window (``Data.holdout``: the 64 samples right after
  the 256 trained on) is exactly ``validation_split=0.2`` of the 320: the same rows in every arm.

The fix, either way: the same order on both sides. ``fit(shuffle=False)`` (``keras-tensorflow-in-order``, which
the literal port reproduces), or the port drawing Keras's order. The latter is feasible for the JAX backend only
(NumPy's generator; ``jax-fit-order`` reproduces ``keras-jax``'s order exactly); the TensorFlow and torch
backends draw from their own generators, which a JAX port cannot replay, so ``keras-tensorflow`` and
``keras-torch`` keep their own orders (recorded per step in each run's ``info["shuffle"]``).

The preset: 784-32-10 tanh MLP (softmax), categorical CE, SGD lr 0.1, 256 MNIST samples in 8 batches of 32,
16 steps (2 epochs), Keras's seed 0.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.fit_shuffle.evidence import MEASURED
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params

SIZES = (784, 32, 10)
PARAMS = dense_params(SIZES)
SEED = 0  # keras.utils.set_random_seed(SEED) before fit: the order of every shuffled arm
N, BATCH, HOLDOUT = 256, 32, 64  # HOLDOUT / (N + HOLDOUT) = 0.2: validation_split=0.2's rows
VALIDATION_SPLIT = HOLDOUT / (N + HOLDOUT)
F = Folder("paritybench.workloads.fit_shuffle")

IN_ORDER = {"batch order": "window order, every epoch (shuffle=False)"}
KERAS_JAX_ORDER = {
    "batch order": f"fit(shuffle=True) after set_random_seed({SEED}): NumPy RandomState({SEED}) permutations 1, 2, ..."
}
VALIDATION = {
    "validation rows": f"the last {HOLDOUT} of {N + HOLDOUT} (validation_split={VALIDATION_SPLIT:g}), unshuffled"
}

ARMS = (
    F.port(
        "jax-in-order",
        "literal port: a JAX loop over the batches in window order, CE from logits",
        "logits",
        {**IN_ORDER, **VALIDATION, "loss path": "from logits"},
        emulates="keras-tensorflow-in-order",
    ),
    F.fix(
        "jax-fit-order",
        "the fix: each epoch in Keras-JAX's fit order (NumPy RandomState(seed), its first permutation skipped), "
        "CE from logits",
        "logits",
        {**KERAS_JAX_ORDER, **VALIDATION, "loss path": "from logits"},
        emulates=None,
        shuffle_seed=SEED,
    ),
    F.jax_arm(
        "jax-fit-order-keras-clip",
        "Keras-JAX's update: the fix's order, CE on clipped probabilities",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        conventions={**KERAS_JAX_ORDER, **VALIDATION, "loss path": "softmax probabilities renormalised, clipped"},
        shuffle_seed=SEED,
    ),
    F.torch_port(
        "torch-in-order",
        "native torch: a DataLoader loop with its default shuffle=False (window order), CE from logits",
        "ce_logits",
        {**IN_ORDER, **VALIDATION, "loss path": "from logits"},
        matches="jax-in-order",
    ),
    *F.keras_arms(
        tensorflow="fit(shuffle=True): tf.random.shuffle's order, CE from the cached logits",
        jax="fit(shuffle=True): NumPy's order, CE on clipped probabilities",
        torch="fit(shuffle=True): torch.randperm's order, CE on clamped probabilities",
        setting=f", fit(shuffle=True) after set_random_seed({SEED})",
        conventions={"batch order": f"fit(shuffle=True) after set_random_seed({SEED}), the backend's generator"},
        shuffle_seed=SEED,
    ),
    F.keras_arm(
        "tensorflow",
        "fit(shuffle=False): window order, CE from the cached logits",
        name="keras-tensorflow-in-order",
        setting=", fit(shuffle=False)",
        conventions=IN_ORDER,
    ),
    F.reference(
        "float64 in Keras-JAX's fit order (the model being ported, on the backend whose order a port can replay), "
        "CE from logits",
        {**KERAS_JAX_ORDER, **VALIDATION, "loss path": "from logits"},
        shuffle_seed=SEED,
    ),
)

WORKLOAD = F.workload(
    name="fit-shuffle",
    question="Does a JAX loop over minibatches in window order train like Keras's fit, which shuffles every epoch "
    "by default?",
    sources=(
        "keras-team/keras#4405",
        "keras-team/keras#6422",
        "keras-team/keras#597",
        "keras/src/trainers/data_adapters/array_data_adapter.py",
    ),
    data=Data(dataset="mnist", labels="onehot10", n=N, normalize=True, batch_size=BATCH, holdout=HOLDOUT),
    training=Training(steps=16, lr=0.1),
    model=F.model(PARAMS, "softmax", "tanh", torch_apply=F.torch("apply"), torch_layers=F.torch("layers")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-fit-order",
)
