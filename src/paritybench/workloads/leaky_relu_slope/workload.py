"""leaky-relu-slope: the default negative slope of a leaky ReLU is 0.3 in Keras's layer
(``keras.layers.LeakyReLU``, ``keras/src/layers/activations/leaky_relu.py:38``, ``negative_slope=0.3``),
0.2 in Keras's activation function (``keras.activations.leaky_relu``, ``keras/src/activations/activations.py:112``,
what ``Dense(activation="leaky_relu")`` resolves to), and 0.01 in ``jax.nn.leaky_relu``
(``jax/_src/nn/functions.py:331``) and torch's ``nn.LeakyReLU`` (``torch/nn/modules/activation.py:914``). A port
of a Keras model with ``LeakyReLU()`` that writes ``jax.nn.leaky_relu(h)`` (or torch's ``nn.LeakyReLU()``)
trains another function: every negative pre-activation passes 0.01 of itself instead of 0.3, and its
gradient is scaled by 0.01 instead of 0.3.

Why this setting: 784-64-10 with the leaky ReLU on the hidden layer and a softmax output on MNIST scaled to
[0, 1], Keras's defaults (glorot_uniform kernels, zero biases): zero-mean kernels on non-negative pixels
make 47.9% of the hidden pre-activations negative at step 0 (``tests/test_workload_leaky_relu_slope.py``),
so the slope weighs on half the layer. (At exactly 0, JAX's gradient is 1, torch's and TensorFlow's the
slope: measured, test; no pre-activation of the preset is exactly 0.) Categorical CE,
10 full-batch SGD steps at lr 0.1.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.arms import CE_RENORMALISED, JAX
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.leaky_relu_slope.evidence import MEASURED

SIZES = (784, 64, 10)
PARAMS = dense_params(SIZES)
KERAS_LAYER_SLOPE = 0.3  # keras.layers.LeakyReLU()
KERAS_ACTIVATION_SLOPE = 0.2  # keras.activations.leaky_relu, Dense(activation="leaky_relu")
PORT_SLOPE = 0.01  # jax.nn.leaky_relu, torch.nn.LeakyReLU()
F = Folder("paritybench.workloads.leaky_relu_slope")


def _slope(s: float, where: str) -> dict[str, str]:
    return {"activation": f"leaky ReLU, negative slope {s:g} ({where})"}


LAYER = _slope(KERAS_LAYER_SLOPE, "keras.layers.LeakyReLU() default")
PORT = _slope(PORT_SLOPE, "jax.nn.leaky_relu and torch.nn.LeakyReLU() default")

ARMS = (
    F.port(
        "jax-leaky-literal",
        f"literal port: jax.nn.leaky_relu(h), JAX's default slope {PORT_SLOPE:g}, CE from logits",
        "logits",
        {**PORT, "loss path": "from logits"},
        forward="port",
        emulates="keras-tensorflow-slope-port",
    ),
    *F.ce_fix(
        "jax-leaky-keras",
        f"the fix: jax.nn.leaky_relu(h, negative_slope={KERAS_LAYER_SLOPE:g}), CE from logits",
        "logits",
        LAYER,
        loss_paths=CE_RENORMALISED,
        emulation_requires=JAX,
    ),
    F.jax_arm(
        "jax-leaky-activation",
        f"Keras's activation function's slope: jax.nn.leaky_relu(h, negative_slope={KERAS_ACTIVATION_SLOPE:g})",
        "logits",
        role="emulation",
        emulates="keras-tensorflow-activation",
        conventions={
            **_slope(KERAS_ACTIVATION_SLOPE, "keras.activations.leaky_relu default"),
            "loss path": "from logits",
        },
        forward="activation",
        requires=JAX,
    ),
    F.torch_port(
        "torch-leaky-relu",
        f"native torch: torch.nn.LeakyReLU() (slope {PORT_SLOPE:g}), CE from logits",
        "ce_logits",
        {**PORT, "loss path": "from logits"},
        forward="port",
        matches="jax-leaky-literal",
    ),
    F.torch_fix(
        "torch-leaky-relu-keras",
        f"native torch: torch.nn.LeakyReLU({KERAS_LAYER_SLOPE:g}), Keras's layer slope, CE from logits",
        "ce_logits",
        {**LAYER, "loss path": "from logits"},
        matches="jax-leaky-keras",
    ),
    *F.ce_keras_arms(
        f", LeakyReLU() (slope {KERAS_LAYER_SLOPE:g})",
        conventions=LAYER,
    ),
    F.keras_arm(
        "tensorflow",
        f'Dense(activation="leaky_relu"): keras.activations.leaky_relu, slope {KERAS_ACTIVATION_SLOPE:g}',
        name="keras-tensorflow-activation",
        setting=', Dense(activation="leaky_relu")',
        keras_options={"activation_string": True},
        conventions=_slope(KERAS_ACTIVATION_SLOPE, "keras.activations.leaky_relu default"),
    ),
    F.keras_arm(
        "tensorflow",
        f"LeakyReLU(negative_slope={PORT_SLOPE:g}): the port's slope written in Keras",
        name="keras-tensorflow-slope-port",
        setting=f", LeakyReLU(negative_slope={PORT_SLOPE:g})",
        keras_options={"negative_slope": PORT_SLOPE},
        conventions=PORT,
    ),
    F.reference(
        f"float64, leaky ReLU slope {KERAS_LAYER_SLOPE:g} (the Keras LeakyReLU() being ported), CE from logits",
        {**LAYER, "loss path": "from logits"},
    ),
)

WORKLOAD = F.workload(
    name="leaky-relu-slope",
    question="Does a JAX (or torch) port of a Keras LeakyReLU() layer, written with the framework's default slope "
    "(0.01), train like Keras's (0.3)?",
    sources=("pytorch/pytorch#10349", "jinyu121/DW2TF#2", "keras/src/layers/activations/leaky_relu.py"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=10, lr=0.1),
    model=F.model(
        PARAMS,
        "softmax",
        jax_layers=F.jax("layers"),
        keras_layers={"dense_0/leaky_relu": 1},
        torch_apply=F.torch("apply"),
        torch_layers=F.torch("layers"),
    ),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-leaky-keras",
)
