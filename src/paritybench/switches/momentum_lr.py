"""SGD momentum's learning-rate placement: applied after the momentum buffer (optax ``sgd``: ``trace`` then
``scale_by_learning_rate``; torch ``SGD``: ``b = m b + g; w -= lr_k b``) or before it (Keras's velocity:
``v = m v - lr_k g; w += v``), switched to the other arm's, keeping the arm's own momentum and learning rates.
The two agree at a constant learning rate and part where it changes. Demonstrated by momentum-schedule.

Read from the code, not the declarations: each arm's optimizer is built at the run's learning rate over one
vector of ``K`` zeros (``K`` the workload's steps, at most ``MAX_STEPS``) and stepped ``K`` times with an
impulse gradient (element ``j`` gets 1 at step ``j``, 0 otherwise). The update ``U[k, j]`` of element ``j`` at
step ``k`` is ``-lr_k m^(k-j)`` after the buffer and ``-lr_j m^(k-j)`` before it: the diagonal gives the
learning rate of every step, a step of constant learning rate gives ``m``, and the rule is the one the whole
table fits. A table that fits both (a constant learning rate, no momentum) has nothing to change; one that fits
neither (Nesterov, Adam, clipping) is refused. The switched arm's optimizer is the other rule with the arm's own
``m`` and per-step learning rates (the last one after ``K`` steps)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, resolve_ref

MAX_STEPS = 256
RTOL = 1e-4
AFTER, BEFORE = "after the buffer", "before the buffer"
EITHER = "alike either way (a constant learning rate or no momentum)"


def _jax_table(arm: Arm, t: Target, k: int) -> np.ndarray:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags
    import optax  # late: a framework: loads after the numerics flags

    opt = resolve_ref(arm.optimizer)(t.lr) if arm.optimizer is not None else optax.sgd(t.lr)
    params = jnp.zeros(k, jnp.float32)
    state = opt.init(params)
    rows = []
    for step in range(k):
        u, state = opt.update(jnp.zeros(k, jnp.float32).at[step].set(1.0), state, params)
        rows.append(np.asarray(u, np.float64))
    return np.stack(rows)


def _torch_table(arm: Arm, t: Target, k: int) -> np.ndarray:
    import torch  # late: a framework: loads after the numerics flags

    p = torch.zeros(k, requires_grad=True)
    if arm.torch_optimizer is None:
        opt = torch.optim.SGD([p], lr=t.lr)
    else:
        opt = resolve_ref(arm.torch_optimizer)({"p": p}, t.lr)
    rows = []
    for step in range(k):
        before = p.detach().clone()
        p.grad = torch.zeros(k)
        p.grad[step] = 1.0
        opt.step()
        rows.append((p.detach() - before).numpy().astype(np.float64))
    return np.stack(rows)


def read(arm: Arm, t: Target) -> tuple[str, float, np.ndarray]:
    """``arm``'s (rule, momentum, per-step learning rates), read from its optimizer's updates."""
    kind = kind_of(arm).switch_kind()
    k = max(2, min(int(t.workload.training.steps), MAX_STEPS))
    if kind in ("jax", "f64"):
        u = _jax_table(arm, t, k)
    elif kind == "torch":
        u = _torch_table(arm, t, k)
    else:
        raise Refusal(f"{arm.name}'s optimizer is a Keras optimizer in its worker: not a function to probe")
    lrs = -np.diag(u)
    if np.any(lrs <= 0) or not np.all(np.isfinite(u)):
        raise Refusal(f"{arm.name}'s optimizer does not step against an impulse gradient: not SGD")
    same = [j for j in range(k - 1) if np.isclose(lrs[j], lrs[j + 1], rtol=RTOL)]
    if not same:
        raise Refusal(f"{arm.name}'s learning rate changes at every step: its momentum cannot be read")
    m = float(u[same[0] + 1, same[0]] / u[same[0], same[0]])
    steps = np.arange(k)
    power = np.where(steps[:, None] >= steps[None, :], float(m) ** np.maximum(steps[:, None] - steps[None, :], 0), 0)
    fits = {
        AFTER: np.allclose(u, -lrs[:, None] * power, rtol=RTOL, atol=1e-12),
        BEFORE: np.allclose(u, -lrs[None, :] * power, rtol=RTOL, atol=1e-12),
    }
    if not any(fits.values()):
        raise Refusal(
            f"{arm.name}'s updates fit neither w -= lr_k b (b = m b + g) nor v = m v - lr_k g: not plain SGD momentum"
        )
    if all(fits.values()):
        return EITHER, m, lrs
    return (AFTER if fits[AFTER] else BEFORE), m, lrs


def _plan(arm: Arm, t: Target) -> tuple[str, float, np.ndarray]:
    mine, m, lrs = read(arm, t)
    theirs, _, _ = read(t.other, t)
    if EITHER in (mine, theirs):
        who = arm.name if mine == EITHER else t.other.name
        raise Refusal(f"nothing to change: {who}'s updates are {EITHER}")
    if mine == theirs:
        raise Refusal(f"nothing to change: both apply the learning rate {mine}")
    return theirs, m, lrs


def _jax(arm: Arm, t: Target) -> Arm:
    rule, m, lrs = _plan(arm, t)
    table = [float(v) for v in lrs]

    def switched(lr):
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags
        import optax  # late: a framework: loads after the numerics flags

        rates = jnp.asarray(table)

        def schedule(count):
            return rates[jnp.minimum(count, len(table) - 1)]

        lr_t = optax.scale_by_learning_rate(schedule)
        return optax.chain(lr_t, optax.trace(m)) if rule == BEFORE else optax.chain(optax.trace(m), lr_t)

    switched.__qualname__ = f"sgd_momentum[lr {rule}, m={m:.6g}]"
    return replace(arm, optimizer=switched)


def _torch_sgd(params, m: float, table: list[float], rule: str):
    import torch  # late: a framework: loads after the numerics flags

    class ScheduledMomentum(torch.optim.Optimizer):
        """SGD momentum with the learning rate of step k from ``table``: ``b = m b + g; w -= lr_k b`` (after the
        buffer) or ``v = m v - lr_k g; w += v`` (before it), in the parameters' dtype."""

        def __init__(self, ps):
            super().__init__(ps, {"lr": table[0]})
            self.count = 0

        @torch.no_grad()
        def step(self, closure=None):
            lr = table[min(self.count, len(table) - 1)]
            for g in self.param_groups:
                for p in g["params"]:
                    if p.grad is None:
                        continue
                    st = self.state[p]
                    if "buf" not in st:
                        st["buf"] = torch.zeros_like(p)
                    buf = st["buf"]
                    if rule == AFTER:
                        buf.mul_(m).add_(p.grad)
                        p.add_(buf, alpha=-lr)
                    else:
                        buf.mul_(m).add_(p.grad, alpha=-lr)
                        p.add_(buf)
            self.count += 1

    return ScheduledMomentum(list(params.values()))


def _torch(arm: Arm, t: Target) -> Arm:
    rule, m, lrs = _plan(arm, t)
    table = [float(v) for v in lrs]

    def switched(params, lr):
        return _torch_sgd(params, m, table, rule)

    switched.__qualname__ = f"torch_sgd_momentum[lr {rule}, m={m:.6g}]"
    return replace(arm, torch_optimizer=switched)


SWITCH = Switch(
    name="momentum learning-rate placement",
    family="optimizer",
    description="SGD momentum with the learning rate applied after the buffer (optax, torch) vs before it (Keras)",
    rows=("momentum", "optimizer", "learning rate schedule"),
    demonstrated_by="momentum-schedule",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={"keras": "a Keras arm's SGD is keras.optimizers.SGD in its worker: its momentum rule has no setting"},
)
