"""l2-weight-decay: Keras's ``kernel_regularizer=l2(lam)`` adds ``lam * sum(w^2)`` to the loss, so the
gradient gets ``2 * lam * w``; ``optax.add_decayed_weights(lam)`` and torch's ``weight_decay=lam`` add
``lam * w``. A port that copies lam decays half as fast. With Adam, L2 in the loss (coupled) is not AdamW
(decoupled): Adam's normalisation divides the decay term away with the data gradient.

Why this setting: Keras's defaults, ``l2()`` = 0.01 and ``SGD()``'s learning rate 0.01, on adam-epsilon's
small smooth model (784-32-10 tanh, pixels in [0, 1], 10 full-batch steps). Per step the port's kernels shrink
by ``lr * lam * w`` less than Keras's (1e-4 of each weight), far above float32 rounding (~1e-7 here) but
far too small to move the accuracy within 10 steps: the gap is in the weights and the regularised
objective, which is what an L2 port is meant to reproduce. The Adam arms run at each optimizer's own Keras
default, ``lr * ADAM_LR_SCALE`` = 1e-3 (SGD's 0.01 / 10), on both sides: at 0.01 Adam's division by
``sqrt(v)`` magnifies gradient rounding in the near-zero-gradient coordinates to 9.6e-7 after one step
(measured, Keras-TF AdamW vs its emulation), too close to the 1e-6 mechanism tolerance.
Loss curves: Keras's ``fit`` loss includes the penalty; the JAX arms' loss is the data loss only.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.arms import BACKENDS
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.l2_weight_decay.evidence import MEASURED

SIZES = (784, 32, 10)
PARAMS = dense_params(SIZES)
LAM = 0.01  # keras.regularizers.L2's default
ADAM_LR_SCALE = 0.1  # Adam arms: the preset lr (SGD's default 0.01) times this = Adam's default 1e-3
F = Folder("paritybench.workloads.l2_weight_decay")
_DATA_LOSS = "data loss only; the decay is in the optimizer chain"
_FIT_LOSS = {"loss": "fit's loss includes the penalty"}
_L2 = {"decay": f"l2({LAM:g}) on kernels: gradient + 2*lam*w = + {2 * LAM:g}*w"}


ARMS = (
    F.port(
        "jax-sgd-decay-literal",
        f"literal port: add_decayed_weights({LAM:g}) on kernels, then SGD",
        "logits",
        {
            "decay": f"gradient + lam*w = + {LAM:g}*w on kernels (torch weight_decay={LAM:g})",
            "loss path": _DATA_LOSS,
        },
        optimizer="sgd_decay_literal",
    ),
    F.fix(
        "jax-sgd-l2",
        f"the fix: add_decayed_weights(2 * {LAM:g}) on kernels, then SGD (Keras's l2 gradient)",
        "logits",
        {**_L2, "loss path": "from logits; " + _DATA_LOSS},
        optimizer="sgd_l2",
    ),
    *F.ce_fix_emulations("jax-sgd-l2", _L2, ("clipped", "clamped (torch)"), optimizer="sgd_l2"),
    F.torch_port(
        "torch-sgd-weight-decay",
        f"native torch: torch.optim.SGD(weight_decay={LAM:g}) on the kernels, CE from logits",
        "ce_logits",
        {"decay": f"gradient + lam*w = + {LAM:g}*w on kernels", "loss path": _DATA_LOSS},
        optimizer="sgd_weight_decay",
        matches="jax-sgd-decay-literal",
    ),
    *F.keras_arms(
        **dict.fromkeys(BACKENDS, f"SGD, kernel_regularizer=l2({LAM:g})"),
        keras_options={"l2": LAM},
        conventions={**_L2, **_FIT_LOSS},
    ),
    F.keras_arm(
        "tensorflow",
        f"SGD, l2({LAM / 2:g}): the fix the other way (a torch weight_decay={LAM:g} model ported to Keras)",
        name="keras-tensorflow-l2-half",
        keras_options={"l2": LAM / 2},
        conventions={"decay": f"l2({LAM / 2:g}): gradient + {LAM:g}*w, the port's decay", **_FIT_LOSS},
    ),
    F.jax_arm(
        "jax-adam-l2",
        "coupled: 2*lam*w added to the gradient, then Keras's Adam (Keras Adam + l2)",
        "logits",
        optimizer="adam_l2",
        role="emulation",
        emulates="keras-tensorflow-adam-l2",
        conventions={**_L2, "optimizer": "Keras's Adam (eps 1e-7, epsilon-hat), lr x 0.1", "loss path": _DATA_LOSS},
    ),
    F.keras_arm(
        "tensorflow",
        f"Adam(lr x 0.1, epsilon=1e-7), l2({LAM:g}) (coupled decay)",
        name="keras-tensorflow-adam-l2",
        keras_optimizer=F.keras("adam"),
        keras_options={"l2": LAM},
        conventions={**_L2, "optimizer": "Adam", **_FIT_LOSS},
    ),
    F.jax_arm(
        "jax-adamw",
        f"decoupled: Keras's Adam step plus -lr*{LAM:g}*w on every variable (Keras AdamW)",
        "logits",
        optimizer="keras_adamw",
        role="emulation",
        emulates="keras-tensorflow-adamw",
        conventions={"decay": f"w -= lr*{LAM:g}*w, every variable, outside Adam", "loss path": _DATA_LOSS},
    ),
    F.keras_arm(
        "tensorflow",
        f"AdamW(lr x 0.1, weight_decay={LAM:g}, epsilon=1e-7), no regularizer",
        name="keras-tensorflow-adamw",
        keras_optimizer=F.keras("adamw"),
        conventions={"decay": f"w -= w*{LAM:g}*lr before the Adam step, every variable", **_FIT_LOSS},
    ),
    F.reference(
        f"float64 SGD with Keras's l2({LAM:g}) gradient (the model being ported), CE from logits",
        _L2,
        optimizer=F.jax("sgd_l2"),
    ),
)

WORKLOAD = F.workload(
    name="l2-weight-decay",
    question="Does optax.add_decayed_weights(lam) (torch weight_decay=lam) reproduce Keras's "
    "kernel_regularizer=l2(lam), and is Adam with L2 the same as AdamW?",
    sources=("mlcommons/hpc#22", "keras-team/keras#4712"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=10, lr=0.01),
    model=F.model(PARAMS, "softmax", "tanh", torch_apply=F.torch("apply"), torch_layers=F.torch("layers")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-sgd-l2",
)
