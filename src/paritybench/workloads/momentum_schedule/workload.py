"""momentum-schedule: SGD with momentum is one update in Keras, optax and torch at a constant learning rate and
two different ones under a schedule. Keras folds the learning rate into the velocity when the gradient enters it;
optax and torch keep a buffer of raw gradients and multiply the whole buffer by today's learning rate.

The three rules, from the sources (momentum m, learning rate lr_k at step k = 0, 1, ...):

- Keras 3 (``keras/src/optimizers/sgd.py`` :103-121): ``v = m * v - lr_k * g; w += v``; Nesterov
  ``w += m * v - lr_k * g`` with the new ``v``. ``lr_k`` is the schedule at ``iterations`` before the step's
  increment (``base_optimizer.py`` :777-786, :533).
- optax (``optax/_src/alias.py`` ``sgd``: ``chain(trace(decay=m, nesterov), scale_by_learning_rate(lr))``;
  ``optax/transforms/_accumulation.py`` ``trace``: ``t = g + m * t``, Nesterov ``g + m * t`` with the new ``t``;
  ``optax/_src/transform.py`` ``scale_by_schedule``: the schedule at ``count``, 0 at the first step):
  ``b = m * b + g; w -= lr_k * b``.
- torch (``torch/optim/sgd.py`` ``_single_tensor_sgd`` :358-379): ``buf = m * buf + g`` (``buf = g`` at the
  first step), ``w -= lr * buf``; Nesterov ``w -= lr * (g + m * buf)``; a ``StepLR`` stepped after every
  ``optimizer.step()`` sets the next ``lr``.

So Keras's step is ``-sum_j m^(k-j) lr_j g_j`` and optax's/torch's ``-lr_k sum_j m^(k-j) g_j``: equal while
``lr`` is constant; after the learning rate drops, optax and torch scale the gradients remembered from before the
drop by the new, smaller rate, Keras by the rates they were taken at. At the first step after a drop from lr to
lr*gamma the difference is exactly ``lr (1 - gamma) m b`` (``b`` the buffer of raw gradients before the step):
with a constant gradient ``g``, optax/torch step ``lr*gamma*(1 + m + ... + m^k) g`` against Keras's
``(lr (m + ... + m^k) + lr*gamma) g`` (``step_ratio``, exact, test). The fix in optax moves the learning rate in
front of the trace, ``chain(scale_by_learning_rate(schedule), trace(m))``: ``u = m*u - lr_k*g``, Keras's ``v``.

Why this setting: adam-epsilon's small smooth model (784-32-10 tanh, pixels in [0, 1], 1000 samples,
full batch, glorot_uniform kernels) with SGD(momentum=0.9) at lr 0.1 halved every 5 steps (Keras's
``ExponentialDecay(0.1, decay_steps=5, decay_rate=0.5, staircase=True)``, optax's ``exponential_decay`` with
``staircase=True``, torch's ``StepLR(step_size=5, gamma=0.5)``) for 20 steps: three drops (steps 5, 10, 15),
and five steps before the first in which the rules agree.
Measured figures: docs/catalogue.md (generated from) ``results/baselines/momentum-schedule-cpu.json``.
"""

from __future__ import annotations

from paritybench.workloads.base import Data, Training
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.kit.mlp import dense_params
from paritybench.workloads.momentum_schedule.evidence import MEASURED

SIZES = (784, 32, 10)
PARAMS = dense_params(SIZES)
MOMENTUM = 0.9
DROP_EVERY, GAMMA = 5, 0.5  # the learning rate is multiplied by GAMMA every DROP_EVERY steps
F = Folder("paritybench.workloads.momentum_schedule")


def lr_at(lr: float, k: int) -> float:
    """The schedule's learning rate at step ``k`` (0-based): ``lr * GAMMA ** (k // DROP_EVERY)``."""
    return lr * GAMMA ** (k // DROP_EVERY)


def step_ratio(k: int, momentum: float = MOMENTUM, drop_every: int = DROP_EVERY, gamma: float = GAMMA) -> float:
    """optax's (and torch's) step over Keras's at step ``k`` under a constant gradient, exactly:
    ``lr_k * sum_j m^(k-j)`` over ``sum_j m^(k-j) lr_j`` (1.0 before the first drop; the lr's scale cancels)."""
    rates = [gamma ** (j // drop_every) for j in range(k + 1)]
    return (
        rates[k]
        * sum(momentum ** (k - j) for j in range(k + 1))
        / sum(momentum ** (k - j) * rates[j] for j in range(k + 1))
    )


# Recorded in the arms' conventions so every artifact carries the relation for this preset.
RATIO_BY_STEP = {f"step {k}": f"{step_ratio(k):.4f}" for k in (4, 5, 6, 9, 10, 15, 19)}
_SCHEDULE = {"learning rate schedule": f"lr x {GAMMA:g} every {DROP_EVERY} steps (staircase)"}
_KERAS = {
    **_SCHEDULE,
    "momentum": f"Keras: v = {MOMENTUM}*v - lr_k*g; w += v (lr applied when the gradient enters)",
}
_BUFFER = {
    **_SCHEDULE,
    "momentum": f"b = {MOMENTUM}*b + g; w -= lr_k*b (today's lr on the whole buffer)",
    "step over Keras's, constant gradient": RATIO_BY_STEP,
}

ARMS = (
    F.port(
        "jax-sgd-momentum-literal",
        f"literal port: optax.sgd(exponential_decay(lr, {DROP_EVERY}, {GAMMA:g}, staircase=True), momentum={MOMENTUM})",
        "logits",
        {**_BUFFER, "loss path": "from logits"},
        optimizer="optax_sgd_literal",
    ),
    *F.ce_fix(
        "jax-keras-momentum",
        "the fix: chain(scale_by_learning_rate(schedule), trace(momentum)), Keras's velocity, CE from logits",
        "logits",
        _KERAS,
        optimizer="keras_momentum",
    ),
    F.torch_port(
        "torch-sgd-momentum",
        f"native torch: torch.optim.SGD(momentum={MOMENTUM}) with StepLR(step_size={DROP_EVERY}, gamma={GAMMA:g}) "
        "stepped after each step, CE from logits",
        "ce_logits",
        {**_BUFFER, "loss path": "from logits"},
        optimizer="sgd_step_lr",
        matches="jax-sgd-momentum-literal",
    ),
    F.torch_fix(
        "torch-keras-momentum",
        "torch fixed: each gradient times the step's learning rate, then torch.optim.SGD(lr=1.0, "
        f"momentum={MOMENTUM}): Keras's velocity in torch's buffer, CE from logits",
        "ce_logits",
        {**_KERAS, "loss path": "from logits"},
        optimizer="keras_sgd",
        matches="jax-keras-momentum",
    ),
    *F.ce_keras_arms(
        f", SGD(ExponentialDecay(lr, {DROP_EVERY}, {GAMMA:g}, staircase=True), momentum={MOMENTUM})",
        keras_optimizer=F.keras("sgd"),
        conventions=_KERAS,
    ),
    # Nesterov: the same two rules with the look-ahead; the reference stays the plain-momentum one, so these
    # arms' distance to it is not a gap (they train another optimizer), each pair is held to its own twin
    F.jax_arm(
        "jax-nesterov-literal",
        f"literal port, Nesterov: optax.sgd(schedule, momentum={MOMENTUM}, nesterov=True)",
        "logits",
        optimizer="optax_nesterov_literal",
        role="port",
        conventions={**_SCHEDULE, "momentum": f"Nesterov: b = {MOMENTUM}*b + g; w -= lr_k*(g + {MOMENTUM}*b)"},
    ),
    F.jax_arm(
        "jax-keras-nesterov",
        "Keras's Nesterov SGD in optax: chain(scale_by_learning_rate(schedule), trace(momentum, nesterov=True))",
        "logits",
        optimizer="keras_nesterov",
        role="emulation",
        emulates="keras-tensorflow-nesterov",
        conventions={**_SCHEDULE, "momentum": f"Keras Nesterov: v = {MOMENTUM}*v - lr_k*g; w += {MOMENTUM}*v - lr_k*g"},
    ),
    F.torch_port(
        "torch-sgd-nesterov",
        f"native torch: torch.optim.SGD(momentum={MOMENTUM}, nesterov=True) with StepLR, CE from logits",
        "ce_logits",
        {**_SCHEDULE, "momentum": f"Nesterov: b = {MOMENTUM}*b + g; w -= lr_k*(g + {MOMENTUM}*b)"},
        optimizer="sgd_nesterov_step_lr",
        matches="jax-nesterov-literal",
    ),
    F.keras_arm(
        "tensorflow",
        "CE from the cached logits",
        name="keras-tensorflow-nesterov",
        setting=f", SGD(ExponentialDecay(lr, {DROP_EVERY}, {GAMMA:g}, staircase=True), momentum={MOMENTUM}, "
        "nesterov=True)",
        keras_optimizer=F.keras("sgd_nesterov"),
        conventions={**_SCHEDULE, "momentum": f"Keras Nesterov: v = {MOMENTUM}*v - lr_k*g; w += {MOMENTUM}*v - lr_k*g"},
    ),
    F.reference(
        "float64 SGD with Keras's momentum rule under the schedule (the model being ported), CE from logits",
        {**_KERAS, "loss path": "from logits"},
        optimizer=F.jax("keras_momentum"),
    ),
)

WORKLOAD = F.workload(
    name="momentum-schedule",
    question="Does optax.sgd (or torch.optim.SGD) with momentum and a learning-rate schedule train like "
    "keras.optimizers.SGD with the same momentum and schedule?",
    sources=(
        "pytorch/pytorch#1099",
        "cjlin1/simpleNN#7",
        "paiml/aprender#2190",
        "keras/src/optimizers/sgd.py",
        "optax/_src/alias.py",
        "torch/optim/sgd.py",
    ),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=20, lr=0.1),
    model=F.model(PARAMS, "softmax", "tanh", torch_apply=F.torch("apply"), torch_layers=F.torch("layers")),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-keras-momentum",
)
