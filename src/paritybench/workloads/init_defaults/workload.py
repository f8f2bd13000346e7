"""init-defaults: the same architecture built with each framework's default initialisers.

A model ported between frameworks layer by layer (``Dense(1000)`` -> ``nn.Linear(784, 1000)`` ->
``nn.Dense(1000)``) silently changes its initial weights' distribution: Keras glorot_uniform with zero
bias, flax lecun_normal with zero bias, torch kaiming_uniform(a=sqrt 5) = U(+-1/sqrt(fan_in)) with a
bias of the same scale, stax glorot_normal with a normal(1e-2) bias (``initializers``). There are no
shared weights by design: each arm draws its own per seed (``Arm.init``), and the question is about
distributions of final accuracy over seeds (``paritybench sweep --workload init-defaults --seeds 0-19``),
compared with compare's Mann-Whitney test (``analysis``).

Why this setting: the seed's 784-1000-1 ReLU/sigmoid MLP on raw 0-255 pixels, trained the one way every
arm shares (float32 JAX, BCE from logits, plain SGD, lr 0.01), on 500 samples for 10 full-batch steps. Raw
pixels are where the weight scale matters most: the first layer's pre-activations are sums of up to 784
terms of size 255 * |w|, so a 0.6x smaller weight standard deviation (torch's 1/sqrt(3 fan_in) vs ~0.034 for
the others on this layer) changes how far the logits saturate from step 0. The reference is the float64
arbiter from Keras's default (the model being ported).
"""

from __future__ import annotations

from paritybench.workloads.base import Arm, Data, Training
from paritybench.workloads.init_defaults.evidence import MEASURED
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params

SIZES = (784, 1000, 1)
PARAMS = dense_params(SIZES)
F = Folder("paritybench.workloads.init_defaults")

_WHAT = {
    "keras": "Keras Dense default: glorot_uniform kernel, zero bias",
    "flax": "flax linen Dense default: lecun_normal (truncated normal, std 1/sqrt(fan_in)) kernel, zero bias",
    "torch": "torch nn.Linear default: kaiming_uniform(a=sqrt 5) = U(+-1/sqrt(fan_in)) kernel and bias",
    "stax": "stax Dense default: glorot_normal (truncated normal) kernel, normal(1e-2) bias",
}


def _arm(default: str, role: str) -> Arm:
    return F.jax_arm(
        f"jax-{default}-init",
        f"JAX, BCE from logits, SGD; initial weights: {_WHAT[default]}",
        "logits",
        role=role,
        init=F.ref("initializers", f"{default}_init"),
        conventions={"init": _WHAT[default], "loss path": "from logits"},
    )


ARMS = (
    _arm("keras", "fix"),
    _arm("flax", "port"),
    _arm("torch", "port"),
    _arm("stax", "port"),
    F.torch_port(
        "torch-default-init",
        "native torch, BCE from logits, SGD; initial weights: torch's own nn.Linear defaults "
        "under torch.manual_seed(seed)",
        "bce_logits",
        {"init": _WHAT["torch"] + ", drawn by torch itself", "loss path": "from logits"},
        init=F.torch("torch_default_init"),
    ),
    F.reference(
        "NumPy float64, BCE from logits, from Keras's default initialisers (the model ported)",
        {"init": _WHAT["keras"], "loss path": "from logits"},
        requires=(),
        init=F.ref("initializers", "keras_init"),
    ),
)

WORKLOAD = F.workload(
    name="init-defaults",
    question="Does the same 784-1000-1 MLP train the same when built with Keras's, flax's, torch's or stax's "
    "default initialisers?",
    sources=("keras-team/keras#13995", "pytorch/pytorch#42083"),
    data=Data(dataset="mnist", labels="binary", n=500, normalize=False),
    training=Training(steps=10, lr=0.01),
    model=F.model(
        PARAMS,
        "sigmoid",
        init=F.ref("initializers", "keras_init"),
        f64_loss_and_grad="paritybench.workloads.kit.f64:loss_and_grad",
        f64_forward="paritybench.workloads.kit.f64:forward",
        torch_apply=F.torch("apply"),
    ),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-keras-init",
)
