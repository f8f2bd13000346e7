"""gelu-approximate: ``jax.nn.gelu`` is the tanh approximation by default
(``jax/_src/nn/functions.py:438``, ``approximate: bool = True``:
``x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``), while a Keras ``Dense(activation="gelu")``
(``keras.activations.gelu``, ``keras/src/activations/activations.py:338``, ``approximate=False``) and torch's
``nn.GELU()`` (``torch/nn/modules/activation.py:809``, ``approximate="none"``) compute the exact
``x Phi(x) = x/2 (1 + erf(x / sqrt 2))``. A port of a Keras or torch GELU MLP that writes ``jax.nn.gelu(h)``
trains another function. (``keras.ops.gelu`` itself defaults to the approximation,
``keras/src/ops/nn.py:635``; only the activation a layer names by ``"gelu"`` is exact.)

The two functions differ by at most 4.7e-4 (at x = -2.70) and their derivatives by at most 8.7e-4 (at
x = 2.02); at x = 0.5 by 1.7e-5 (float64, ``tests/test_workload_gelu_approximate.py``). So the gap is in the
weights, far above float32 rounding, not in the accuracy of a short run.

Why this setting: 784-64-10 with GELU on the hidden layer and a softmax output on MNIST scaled to [0, 1],
Keras's defaults (glorot_uniform kernels, zero biases), categorical CE, 10 full-batch SGD steps at lr 0.1:
the hidden pre-activations start with a spread of about 0.5, where the functions already part by ~1e-5, and
grow as the model trains.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.gelu_approximate.evidence import MEASURED
from paritybench.workloads.kit.arms import CE_RENORMALISED, JAX
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params

SIZES = (784, 64, 10)
PARAMS = dense_params(SIZES)
F = Folder("paritybench.workloads.gelu_approximate")

EXACT = "exact GELU, x Phi(x) = x/2 (1 + erf(x/sqrt 2))"
TANH = "tanh-approximate GELU, x/2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))"

ARMS = (
    F.port(
        "jax-gelu-literal",
        "literal port: jax.nn.gelu(h), JAX's default (approximate=True), CE from logits",
        "logits",
        {"activation": TANH, "loss path": "from logits"},
        forward="tanh",
        emulates="keras-tensorflow-gelu-tanh",
    ),
    *F.ce_fix(
        "jax-gelu-exact",
        "the fix: jax.nn.gelu(h, approximate=False), CE from logits",
        "logits",
        {"activation": EXACT},
        loss_paths=CE_RENORMALISED,
        emulation_requires=JAX,
    ),
    F.torch_fix(
        "torch-gelu",
        "native torch: torch.nn.GELU() (approximate='none', exact), CE from logits",
        "ce_logits",
        {"activation": EXACT, "loss path": "from logits"},
        matches="jax-gelu-exact",
    ),
    F.torch_port(
        "torch-gelu-tanh",
        "native torch: torch.nn.GELU(approximate='tanh'), JAX's default written in torch, CE from logits",
        "ce_logits",
        {"activation": TANH, "loss path": "from logits"},
        forward="tanh",
        matches="jax-gelu-literal",
    ),
    *F.ce_keras_arms(
        ', Dense(activation="gelu") (exact)',
        conventions={"activation": EXACT},
    ),
    F.keras_arm(
        "tensorflow",
        "keras.activations.gelu(approximate=True): the port's function written in Keras",
        name="keras-tensorflow-gelu-tanh",
        setting=", gelu(approximate=True)",
        keras_options={"approximate": True},
        conventions={"activation": TANH, "loss path": "from the cached logits"},
    ),
    F.reference(
        "float64, exact GELU (the model being ported), CE from logits",
        {"activation": EXACT, "loss path": "from logits"},
    ),
)

WORKLOAD = F.workload(
    name="gelu-approximate",
    question="Does a JAX port that writes jax.nn.gelu (tanh-approximate by default) train like the Keras or torch "
    "model's exact GELU?",
    sources=("jax-ml/jax#4428", "google/gemma_pytorch#33", "goodfire-ai/spd#624"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=F.model(PARAMS, "softmax", "gelu", torch_apply=F.torch("apply"), torch_layers=F.torch("layers")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-gelu-exact",
)
