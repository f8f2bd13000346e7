"""Adam's epsilon placement: optax's and torch's ``m_hat / (sqrt(v_hat) + eps)`` (after the bias correction)
switched to Keras's ``lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)`` (epsilon-hat, before it), with the
arm's own learning rate, betas and epsilon value. Demonstrated by adam-epsilon.

JAX arms: a plain optax Adam (``scale_by_adam`` and a scaling, no decay, no clipping: read by
``conventions``) becomes ``kit.optimizers.keras_adam`` with its hyperparameters. Torch arms: a
``torch.optim.Adam`` (no weight decay, no amsgrad) becomes the same update as a torch optimizer, its state
kept as torch's ``exp_avg`` / ``exp_avg_sq``.

Keras arms go the other way: a ``keras.optimizers.Adam`` (its rows: class Adam, no amsgrad) compared with an arm
whose epsilon sits after the bias correction (optax's or torch's Adam, its ``optimizer.epsilon placement`` row)
becomes ``arms.keras_optimizers``' Adam with that placement (``keras_edits``: Keras has no setting for it; the
subclass runs optax's formula in its ``update_step``), keeping its learning rate, betas and epsilon."""

from __future__ import annotations

from dataclasses import replace

from paritybench.arms import keras_optimizers
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, KerasEdit, resolve_ref

_AFTER = keras_optimizers.AFTER
KERAS_ADAM = "paritybench.workloads.kit.optimizers:keras_adam"


def _other_is_after(arm: Arm, t: Target) -> None:
    theirs = t.row("optimizer.epsilon placement", other=True)
    if theirs is not None and str(theirs).startswith(_AFTER):
        raise Refusal(
            f"{t.other.name}'s epsilon is {theirs}: this switch moves {arm.name}'s to Keras's placement, not to optax's"
        )


def _jax(arm: Arm, t: Target) -> Arm:
    _other_is_after(arm, t)
    place = t.row("optimizer.epsilon placement")
    if place is None:
        raise Refusal(f"{arm.name}'s optimizer has no epsilon placement row (not an Adam conventions can read)")
    if not str(place).startswith(_AFTER):
        raise Refusal(f"{arm.name}'s epsilon is {place}: not optax's placement after the bias correction")
    chain = str(t.row("optimizer") or "")
    if "scale_by_adam" not in chain or t.row("weight decay") not in ("none", None):
        raise Refusal(f"{arm.name}'s optimizer is {chain}, weight decay {t.row('weight decay')}: not a plain Adam")
    if t.row("gradient clipping") not in ("none", None):
        raise Refusal(f"{arm.name}'s optimizer clips gradients ({t.row('gradient clipping')}): not a plain Adam")
    b1, b2, eps = t.row("optimizer.beta_1"), t.row("optimizer.beta_2"), t.row("optimizer.epsilon")
    if None in (b1, b2, eps):
        raise Refusal(f"{arm.name}'s Adam hyperparameters were not read (beta_1, beta_2, epsilon)")

    def keras_placement(lr):
        # kit.optimizers imports jax and optax at its top: resolved when the arm is built, after the numerics flags
        return resolve_ref(KERAS_ADAM)(lr, float(b1), float(b2), float(eps))

    keras_placement.__qualname__ = f"keras_adam[b1={b1:g}, b2={b2:g}, eps={eps:g}]"
    return replace(arm, optimizer=keras_placement)


def _keras_adam_torch(params, lr: float, betas: tuple[float, float], eps: float):
    import torch  # late: a framework: loads after the numerics flags

    class KerasAdam(torch.optim.Optimizer):
        """keras/src/optimizers/adam.py ``update_step`` in torch, in the parameters' dtype."""

        def __init__(self, ps):
            super().__init__(ps, {"lr": lr, "betas": betas, "eps": eps})

        @torch.no_grad()
        def step(self, closure=None):
            for g in self.param_groups:
                b1, b2 = g["betas"]
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self.state[p]
                    if not st:
                        st["step"] = 0
                        st["exp_avg"] = torch.zeros_like(p)
                        st["exp_avg_sq"] = torch.zeros_like(p)
                    st["step"] += 1
                    m, v, dt = st["exp_avg"], st["exp_avg_sq"], p.dtype
                    m.add_((p.grad - m) * torch.tensor(1 - b1, dtype=dt))
                    v.add_((p.grad * p.grad - v) * torch.tensor(1 - b2, dtype=dt))
                    t = torch.tensor(float(st["step"]), dtype=dt)
                    b1p, b2p = torch.pow(torch.tensor(b1, dtype=dt), t), torch.pow(torch.tensor(b2, dtype=dt), t)
                    alpha = torch.tensor(g["lr"], dtype=dt) * torch.sqrt(1 - b2p) / (1 - b1p)
                    p.sub_((m * alpha) / (torch.sqrt(v) + torch.tensor(g["eps"], dtype=dt)))

    return KerasAdam(list(params.values()))


def _torch(arm: Arm, t: Target) -> Arm:
    import torch  # late: a framework: loads after the numerics flags

    _other_is_after(arm, t)
    if arm.torch_optimizer is None:
        raise Refusal(f"{arm.name} trains with torch.optim.SGD: no Adam epsilon")
    build = resolve_ref(arm.torch_optimizer)
    probe = build({k: torch.zeros(s, requires_grad=True) for k, s in t.workload.model.params.items()}, t.lr)
    if type(probe) is not torch.optim.Adam:
        raise Refusal(f"{arm.name}'s optimizer is {type(probe).__name__}, not torch.optim.Adam")
    groups = probe.param_groups
    if any(g["weight_decay"] or g["amsgrad"] for g in groups) or len({(g["betas"], g["eps"]) for g in groups}) > 1:
        raise Refusal(f"{arm.name}'s Adam has weight decay, amsgrad or per-group settings: not a plain Adam")
    betas, eps = tuple(groups[0]["betas"]), float(groups[0]["eps"])

    def keras_placement(params, lr):
        return _keras_adam_torch(params, lr, betas, eps)

    keras_placement.__qualname__ = f"torch_keras_adam[betas={betas}, eps={eps:g}]"
    return replace(arm, torch_optimizer=keras_placement)


def _keras(arm: Arm, t: Target) -> Arm:
    theirs = t.row("optimizer.epsilon placement", other=True)
    if theirs is None or not str(theirs).startswith(_AFTER):
        raise Refusal(
            f"{t.other.name}'s epsilon placement is {theirs}: this switch moves a Keras Adam's to optax's and torch's "
            "(after the bias correction) only"
        )
    if t.rows_self:
        name, mine = t.row("optimizer"), t.row("optimizer.epsilon placement")
        if name != "Adam" or t.row("optimizer.amsgrad"):
            amsgrad = " with amsgrad" if name == "Adam" else ""
            raise Refusal(f"{arm.name}'s optimizer is {name}{amsgrad}, not a plain Adam")
        if str(mine).startswith(_AFTER):
            raise Refusal(f"nothing to change: {arm.name}'s epsilon is {mine} already")
    edit = KerasEdit("optimizer", "Adam", keras_optimizers.EPSILON_PLACEMENT, _AFTER)
    return replace(arm, keras_edits=(*arm.keras_edits, edit))


SWITCH = Switch(
    name="adam epsilon placement",
    family="optimizer",
    description="Adam's epsilon added to the uncorrected sqrt(v) (Keras's epsilon-hat) instead of sqrt(v_hat)",
    rows=("optimizer", "optimizer.epsilon placement", "optimizer.epsilon", "epsilon"),
    demonstrated_by="adam-epsilon",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch, "keras": _keras},
)
