"""adam-epsilon: Keras's Adam adds epsilon to the *uncorrected* sqrt(v) (Kingma & Ba's epsilon-hat,
Keras default 1e-7); optax and torch add it to the bias-corrected sqrt(v_hat) (default 1e-8). A port that
copies the Keras model's epsilon value into ``optax.adam(eps=...)`` trains a different optimizer.

In optax's terms Keras's update is ``w -= lr * m_hat / (sqrt(v_hat) + eps_t)`` with
``eps_t = eps / sqrt(1 - b2^t)`` (``optax_equivalent_eps``): 31.6 eps at step 1, 22.4 eps at step 2, ...,
tending to eps as ``b2^t`` vanishes (b2 = 0.999: 1.258 eps after 1000 steps, 1.003 eps after 5000; ``tools/claims.py``).

Why this setting: epsilon only matters where ``sqrt(v_hat)`` is not much larger than it, i.e. for
coordinates whose gradient is below ~1e-5. MNIST scaled to [0, 1] gives exactly that: a first-layer weight
fed by a pixel that is ink in only a handful of the 1000 images gets a gradient of 1e-6..1e-8, and Adam
turns even those into full-size steps. The model is small (784-32-10, tanh: smooth, so float32 rounding stays
at ~1e-7 and the gap measured is the optimizer's) and trained with Keras's defaults
(Adam lr 1e-3, epsilon 1e-7) for 10 full-batch steps, the early steps where ``eps_t`` is largest.
"""

from __future__ import annotations

import math

from paritybench.workloads.adam_epsilon.evidence import MEASURED
from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.arms import CE_RENORMALISED
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params

SIZES = (784, 32, 10)
BETA_1 = 0.9
BETA_2 = 0.999
EPSILON = 1e-7  # keras.optimizers.Adam's default (keras/src/optimizers/adam.py)
PARAMS = dense_params(SIZES)
F = Folder("paritybench.workloads.adam_epsilon")


def optax_equivalent_eps(eps: float, t: int, beta_2: float = BETA_2) -> float:
    """The optax/torch epsilon that gives Keras's Adam(epsilon=eps) update at step ``t`` (1-based), exactly:
    Keras's ``lr*sqrt(1-b2^t)/(1-b1^t) * m/(sqrt(v)+eps)`` = ``lr*m_hat/(sqrt(v_hat) + eps/sqrt(1-b2^t))``."""
    if t < 1:
        raise ValueError(f"Adam's step count starts at 1, got {t}")
    return eps / math.sqrt(1.0 - beta_2**t)


# Recorded in the arms' conventions so every artifact carries the relation for this preset.
EPS_RELATION = {f"t={t}": f"{optax_equivalent_eps(EPSILON, t):.4g}" for t in (1, 2, 3, 5, 10, 100, 1000)}


_KERAS_ADAM = {
    "optimizer": f"Keras's Adam formula, eps {EPSILON:g} on the uncorrected sqrt(v)",
    "optax-equivalent eps by step": EPS_RELATION,
}

ARMS = (
    F.port(
        "jax-adam-literal",
        f"literal port: optax.adam(eps={EPSILON:g}), the Keras model's epsilon value",
        "logits",
        {
            "optimizer": f"optax.adam, eps {EPSILON:g} on the bias-corrected sqrt(v_hat)",
            "loss path": "from logits",
        },
        optimizer="optax_adam_literal",
    ),
    F.fix(
        "jax-keras-adam",
        "the fix: Keras's Adam update written as an optax transform, CE from logits",
        "logits",
        {**_KERAS_ADAM, "loss path": "from logits (Keras-TF takes the cached logits)"},
        optimizer="keras_adam",
    ),
    F.fix(
        "jax-adam-eps-scaled",
        "the fix in optax terms: optax.adam with eps / sqrt(1 - b2^t) per step",
        "logits",
        {
            "optimizer": "optax.inject_hyperparams(optax.adam), eps scheduled as eps/sqrt(1-b2^t)",
            "optax-equivalent eps by step": EPS_RELATION,
            "loss path": "from logits",
        },
        optimizer="optax_adam_eps_scaled",
        emulates=None,
    ),
    *F.ce_fix_emulations(
        "jax-keras-adam",
        _KERAS_ADAM,
        CE_RENORMALISED,
        (
            "Keras-JAX's update: Keras's Adam, CE on p / sum(p) clipped to [1e-7, 1-1e-7]",
            "Keras-torch's update: Keras's Adam, CE with torch's clamp",
        ),
        optimizer="keras_adam",
    ),
    F.torch_port(
        "torch-adam",
        f"native torch: torch.optim.Adam(eps={EPSILON:g}), the Keras model's epsilon value, CE from logits",
        "ce_logits",
        {
            "optimizer": f"torch.optim.Adam, eps {EPSILON:g} on the bias-corrected sqrt(v_hat)",
            "loss path": "from logits",
        },
        optimizer="adam",
        matches="jax-adam-literal",
    ),
    *F.ce_keras_arms(
        f", Adam(epsilon={EPSILON:g})",
        keras_optimizer=F.keras("adam"),
        conventions={
            "epsilon": "added to sqrt(v) before bias correction (epsilon-hat)",
            "optax-equivalent eps by step": EPS_RELATION,
        },
    ),
    F.reference(
        "float64 Adam in Keras's convention (the model being ported), CE from logits",
        {**_KERAS_ADAM, "loss path": "from logits"},
        optimizer=F.jax("keras_adam"),
    ),
)

WORKLOAD = F.workload(
    name="adam-epsilon",
    question="Does optax.adam with the Keras model's epsilon value train like keras.optimizers.Adam, which adds "
    "epsilon before the bias correction (epsilon-hat)?",
    sources=("google-deepmind/optax#571", "keras-team/keras#17391", "pytorch/pytorch#104857"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=10, lr=1e-3),
    model=F.model(PARAMS, "softmax", "tanh", torch_apply=F.torch("apply"), torch_layers=F.torch("layers")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-keras-adam",
)
