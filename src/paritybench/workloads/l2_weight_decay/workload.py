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

from paritybench.workloads import evidence
from paritybench.workloads.adam_epsilon.workload import PARAMS
from paritybench.workloads.base import Arm, Data, Model, Training, Workload

LAM = 0.01  # keras.regularizers.L2's default
ADAM_LR_SCALE = 0.1  # Adam arms: the preset lr (SGD's default 0.01) times this = Adam's default 1e-3
_P = "paritybench.workloads.l2_weight_decay"
_DATA_LOSS = "data loss only; the decay is in the optimizer chain"


def _jax_arm(name, description, loss, optimizer, **kw) -> Arm:
    return Arm(
        name,
        description,
        "jax",
        loss,
        loss_fn=f"{_P}.jax_model:{loss}",
        optimizer=f"{_P}.jax_model:{optimizer}",
        requires=("jax", "optax"),
        **kw,
    )


def _keras_arm(
    name: str, backend: str, description: str, optimizer: str | None, lam: float | None, conventions: dict, **kw
) -> Arm:
    return Arm(
        name,
        f"Keras 3 fit, {backend} backend: {description}",
        "keras",
        f"keras:{backend}",
        process=f"keras-{backend}",
        keras_loss=f"{_P}.keras_model:loss",
        keras_optimizer=f"{_P}.keras_model:{optimizer}" if optimizer else None,
        keras_options={"l2": lam} if lam else {},
        requires=("keras", backend),
        role="keras",
        conventions={**conventions, "loss": "fit's loss includes the penalty"},
        **kw,
    )


_L2 = {"decay": f"l2({LAM:g}) on kernels: gradient + 2*lam*w = + {2 * LAM:g}*w"}
ARMS = (
    _jax_arm(
        "jax-sgd-decay-literal",
        f"literal port: add_decayed_weights({LAM:g}) on kernels, then SGD",
        "logits",
        "sgd_decay_literal",
        role="port",
        conventions={
            "decay": f"gradient + lam*w = + {LAM:g}*w on kernels (torch weight_decay={LAM:g})",
            "loss path": _DATA_LOSS,
        },
    ),
    _jax_arm(
        "jax-sgd-l2",
        f"the fix: add_decayed_weights(2 * {LAM:g}) on kernels, then SGD (Keras's l2 gradient)",
        "logits",
        "sgd_l2",
        role="fix",
        emulates="keras-tensorflow",
        conventions={**_L2, "loss path": "from logits; " + _DATA_LOSS},
    ),
    _jax_arm(
        "jax-sgd-l2-clip",
        "Keras-JAX's update: the fix with CE on clipped probabilities",
        "keras_clip",
        "sgd_l2",
        role="emulation",
        emulates="keras-jax",
        conventions={**_L2, "loss path": "clipped"},
    ),
    _jax_arm(
        "jax-sgd-l2-torch-clip",
        "Keras-torch's update: the fix with CE on clamped probabilities",
        "keras_torch_clip",
        "sgd_l2",
        role="emulation",
        emulates="keras-torch",
        conventions={**_L2, "loss path": "clamped (torch)"},
    ),
    Arm(
        "torch-sgd-weight-decay",
        f"native torch: torch.optim.SGD(weight_decay={LAM:g}) on the kernels, CE from logits",
        "torch",
        "torch:ce_logits",
        torch_loss=f"{_P}.torch_model:ce_logits",
        torch_optimizer=f"{_P}.torch_model:sgd_weight_decay",
        requires=("torch",),
        role="port",
        matches="jax-sgd-decay-literal",
        evidence="0.131 on all 8 one-ulp copies (sensitivity --k 8, 2-core CPU, torch 2.15)",
        conventions={"decay": f"gradient + lam*w = + {LAM:g}*w on kernels", "loss path": _DATA_LOSS},
    ),
    _keras_arm("keras-tensorflow", "tensorflow", f"SGD, kernel_regularizer=l2({LAM:g})", None, LAM, _L2),
    _keras_arm("keras-jax", "jax", f"SGD, kernel_regularizer=l2({LAM:g})", None, LAM, _L2),
    _keras_arm("keras-torch", "torch", f"SGD, kernel_regularizer=l2({LAM:g})", None, LAM, _L2),
    _keras_arm(
        "keras-tensorflow-l2-half",
        "tensorflow",
        f"SGD, l2({LAM / 2:g}): the fix the other way (a torch weight_decay={LAM:g} model ported to Keras)",
        None,
        LAM / 2,
        {"decay": f"l2({LAM / 2:g}): gradient + {LAM:g}*w, the port's decay"},
    ),
    _jax_arm(
        "jax-adam-l2",
        "coupled: 2*lam*w added to the gradient, then Keras's Adam (Keras Adam + l2)",
        "logits",
        "adam_l2",
        role="emulation",
        emulates="keras-tensorflow-adam-l2",
        conventions={**_L2, "optimizer": "Keras's Adam (eps 1e-7, epsilon-hat), lr x 0.1", "loss path": _DATA_LOSS},
    ),
    _keras_arm(
        "keras-tensorflow-adam-l2",
        "tensorflow",
        f"Adam(lr x 0.1, epsilon=1e-7), l2({LAM:g}) (coupled decay)",
        "adam",
        LAM,
        {**_L2, "optimizer": "Adam"},
    ),
    _jax_arm(
        "jax-adamw",
        f"decoupled: Keras's Adam step plus -lr*{LAM:g}*w on every variable (Keras AdamW)",
        "logits",
        "keras_adamw",
        role="emulation",
        emulates="keras-tensorflow-adamw",
        conventions={"decay": f"w -= lr*{LAM:g}*w, every variable, outside Adam", "loss path": _DATA_LOSS},
    ),
    _keras_arm(
        "keras-tensorflow-adamw",
        "tensorflow",
        f"AdamW(lr x 0.1, weight_decay={LAM:g}, epsilon=1e-7), no regularizer",
        "adamw",
        None,
        {"decay": f"w -= w*{LAM:g}*lr before the Adam step, every variable"},
    ),
    Arm(
        "reference-f64",
        f"float64 SGD with Keras's l2({LAM:g}) gradient (the model being ported), CE from logits",
        "f64",
        "logits_f64",
        loss_fn=f"{_P}.jax_model:logits",
        optimizer=f"{_P}.jax_model:sgd_l2",
        requires=("jax", "optax"),
        role="reference",
        conventions={**_L2, "dtype": "float64"},
    ),
)

WORKLOAD = Workload(
    name="l2-weight-decay",
    version="1",
    question="Does optax.add_decayed_weights(lam) (torch weight_decay=lam) reproduce Keras's "
    "kernel_regularizer=l2(lam), and is Adam with L2 the same as AdamW?",
    sources=("mlcommons/hpc#22", "keras-team/keras#4712"),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=10, lr=0.01),
    model=Model(
        params=PARAMS,
        head="softmax",
        init=f"{_P}.jax_model:init",
        jax_apply=f"{_P}.jax_model:apply",
        keras_build=f"{_P}.keras_model:build",
        jax_layers=f"{_P}.jax_model:layers",
        keras_layers={"dense_0/tanh": 0},
        torch_apply=f"{_P}.torch_model:apply",
    ),
    arms=evidence.apply("l2-weight-decay", ARMS),  # measured sensitivity classes (workloads/evidence.py)
    fix="jax-sgd-l2",
)
