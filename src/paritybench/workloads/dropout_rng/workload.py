"""dropout-rng: dropout masks come from each framework's own random bits, so two frameworks cannot train the
same steps; what a port can get wrong is the convention around the mask, and the comparison is of distributions
over seeds (as ``init-defaults``), not step by step.

The mechanism, read in the installed source and measured:

- The scaling is inverted dropout everywhere: Keras (``keras/src/backend/{jax,tensorflow,torch}/random.py``,
  ``dropout``: kept values / (1 - rate); TF's ``tf.nn.experimental.stateless_dropout`` scales the same way),
  torch (``torch/nn/functional.py``, ``dropout``: drop probability ``p``, scale 1 / (1 - p)) and
  ``jax.example_libraries.stax.Dropout``, whose ``rate`` is the KEEP probability (``keep =
  random.bernoulli(rng, rate)``, ``inputs / rate``). Every one is identity at evaluation, stax only when the
  layer was built with ``mode='test'``.
- The bits: Keras's Dropout draws from its ``SeedGenerator``, state [seed, counter], the counter incremented per
  draw (``keras/src/random/seed_generator.py``). Keras-JAX passes that uint32 pair to ``jax.random.bernoulli``
  as the key, so a JAX port can draw the same masks (``jax_model.dropout``); Keras-TF feeds it to TF's stateless
  Philox dropout, Keras-torch to a ``torch.Generator`` seeded with seed + counter: other masks, which no JAX code
  reproduces. The model state ``dropout/seed`` carries [SEED, k] in every arm (``Model.state``), so every arm's
  step k is keyed alike, and the masks still differ between the three generators.

The literal port writes ``stax.Dropout(0.2)`` for Keras's ``Dropout(0.2)``: it keeps 20% and scales by 5. A
second port evaluates with dropout on. The fix keeps 1 - rate, scales by 1 / (1 - rate) and is identity at
evaluation; with Keras-JAX's key it reproduces ``keras-jax`` (the runner's mechanism check), while ``keras-tensorflow``
and ``keras-torch`` (and ``torch-dropout``, torch's convention with Keras-torch's generator) can only be compared
as distributions: ``paritybench sweep --workload dropout-rng --seeds 0-19 --windows 0`` (20 seeds: initial weights
per seed, the same dropout seed), and a two-sided Mann-Whitney U test of each arm's final accuracies against the
fix's (``analysis.arm_distributions``, compare's test).

The preset: 784-64-ReLU-Dropout(0.2)-10 softmax, categorical CE, SGD lr 0.1, 256 MNIST samples full batch, 20
steps; the evaluation accuracy on the 256 samples after the window, in evaluation mode.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.dropout_rng.evidence import MEASURED
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params

SIZES = (784, 64, 10)
PARAMS = dense_params(SIZES)
RATE = 0.2  # Keras's Dropout(rate): the drop probability
SEED = 7  # Dropout(RATE, seed=SEED): its SeedGenerator starts at [SEED, 0]
STATE = {"dropout/seed": (2,)}
STATE_INIT = {"dropout/seed": (float(SEED), 0.0)}
F = Folder("paritybench.workloads.dropout_rng")

_KERAS = {
    "dropout rate": f"drop {RATE} (keep {1 - RATE:g}), kept values x 1/(1 - rate)",
    "dropout at evaluation": "off",
}
_JAX_KEY = {"dropout mask": f"jax.random.bernoulli(key=[{SEED}, step], p=keep): Keras-JAX's bits"}

ARMS = (
    F.port(
        "jax-stax-keep-rate",
        f"literal port: stax.Dropout({RATE}), whose argument is the keep probability (keeps {RATE}, x {1 / RATE:g})",
        "logits",
        {
            "dropout rate": f"keep {RATE} (stax's rate is the keep probability), kept values x 1/{RATE}",
            "dropout at evaluation": "off",
            **_JAX_KEY,
            "loss path": "from logits",
        },
        jax_apply=F.jax("apply_stax_keep_rate"),
    ),
    F.port(
        "jax-dropout-at-eval",
        "port that evaluates in training mode: Keras's rate and scaling, dropout left on at evaluation",
        "logits",
        {**_KERAS, "dropout at evaluation": "on (the training-mode network)", **_JAX_KEY, "loss path": "from logits"},
        jax_apply=F.jax("apply_dropout_at_eval"),
    ),
    F.fix(
        "jax-keras-dropout",
        "the fix: drop rate, inverted scaling, off at evaluation, Keras-JAX's key; CE from logits",
        "logits",
        {**_KERAS, **_JAX_KEY, "loss path": "from logits"},
        emulates=None,
    ),
    F.jax_arm(
        "jax-keras-dropout-clip",
        "Keras-JAX's update: the fix with CE on clipped probabilities",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        conventions={**_KERAS, **_JAX_KEY, "loss path": "softmax probabilities renormalised, clipped"},
    ),
    F.torch_arm(
        "torch-dropout",
        "native torch: torch's dropout convention (drop p, x 1/(1 - p), off in eval), the mask from a "
        "torch.Generator seeded seed + step (Keras-torch's draw), CE from logits",
        "ce_logits",
        role="port",
        conventions={
            **_KERAS,
            "dropout mask": f"torch.bernoulli with Generator().manual_seed({SEED} + step): Keras-torch's bits",
            "loss path": "from logits",
        },
    ),
    *F.keras_arms(
        tensorflow="TF's stateless Philox dropout keyed by [seed, step]: other masks",
        jax="jax.random.bernoulli keyed by [seed, step]: the fix's masks, CE on clipped probabilities",
        torch="a torch.Generator seeded seed + step: other masks",
        setting=f", Dropout({RATE}, seed={SEED})",
        conventions=_KERAS,
    ),
    F.reference(
        "float64, Keras's dropout convention with Keras-JAX's masks, CE from logits",
        {**_KERAS, **_JAX_KEY, "loss path": "from logits"},
    ),
)

WORKLOAD = F.workload(
    name="dropout-rng",
    question="Does a JAX port of a Keras model with Dropout train and evaluate like Keras, given that no two "
    "frameworks draw the same masks?",
    sources=(
        "keras/src/layers/regularization/dropout.py",
        "jax/example_libraries/stax.py",
        "torch/nn/functional.py",
    ),
    data=Data(dataset="mnist", labels="onehot10", n=256, normalize=True, batch_size=256, holdout=256),
    training=Training(steps=20, lr=0.1),
    model=F.model(PARAMS, "softmax", state=STATE, state_init=STATE_INIT, torch_apply=F.torch("apply")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-keras-dropout",
)
