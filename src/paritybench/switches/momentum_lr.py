"""SGD momentum's learning-rate placement: applied after the momentum buffer (optax ``sgd``: ``trace`` then
``scale_by_learning_rate``; torch ``SGD``: ``b = m b + g; w -= lr_k b``) or before it (Keras's velocity:
``v = m v - lr_k g; w += v``), switched to the other arm's, keeping the arm's own momentum, learning rates and
Nesterov look-ahead. The two agree at a constant learning rate and part where it changes. Demonstrated by
momentum-schedule.

Read from the code, not the declarations: each arm's optimizer is built at the run's learning rate over one
vector of ``K`` zeros (``K`` the workload's steps, at least 4, at most ``MAX_STEPS``) and stepped ``K`` times with
an impulse gradient (element ``j`` gets 1 at step ``j``, 0 otherwise). The update ``U[k, j]`` of element ``j`` at
step ``k`` is ``-lr_k N[k-j]`` after the buffer and ``-lr_j N[k-j]`` before it, with ``N[d] = m^d`` (plain) or
``N[0] = 1 + m``, ``N[d] = m^(d+1)`` (Nesterov: optax ``trace(nesterov=True)`` and torch ``SGD(nesterov=True)``
step ``g + m b``, Keras ``w += m v - lr_k g``): the diagonal gives the learning rate of every step (times
``N[0]``), a step of constant learning rate gives ``N[1] / N[0]`` and so ``m``, and the rule is the one of the
four whose table fits (``read_rule``). A table that fits both placements (a constant learning rate, no momentum)
has nothing to change; one that fits none (Adam, clipping) is refused. The switched arm's optimizer is the other
placement with the arm's own ``m``, Nesterov and per-step learning rates (the last one after ``K`` steps);
``nesterov.py`` switches the look-ahead with the same reading.

A Keras arm's ``keras.optimizers.SGD`` takes the learning rate before the buffer (``keras/src/optimizers/sgd.py``:
``v = m v - lr g``); against an arm that takes it after (read as above), it becomes ``arms.keras_optimizers``' SGD
with that placement (``keras_edits``: Keras has no setting for it; the subclass runs optax's ``trace`` then the
learning rate in its ``update_step``), keeping its momentum, Nesterov flag and learning-rate schedule."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.arms import keras_optimizers
from paritybench.arms.registry import kind_of
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, KerasEdit, resolve_ref

MAX_STEPS = 256
RTOL = 1e-4
AFTER, BEFORE = "after the buffer", "before the buffer"
EITHER = "alike either way (a constant learning rate or no momentum)"


def _jax_table(arm: Arm, t: Target, k: int) -> np.ndarray:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags
    import optax  # late: a framework: loads after the numerics flags

    opt = resolve_ref(arm.optimizer)(t.lr) if arm.optimizer is not None else optax.sgd(t.lr)
    try:
        params = jnp.zeros(k, jnp.float32)
        state = opt.init(params)
        rows = []
        for step in range(k):
            u, state = opt.update(jnp.zeros(k, jnp.float32).at[step].set(1.0), state, params)
            rows.append(np.asarray(u, np.float64))
        return np.stack(rows)
    except Exception:  # an optimizer over the declared names only (an adapter's, mapping them to the user's tree)
        return _jax_tree_table(opt, t, k)


def _jax_tree_table(opt, t: Target, k: int) -> np.ndarray:
    """``_jax_table`` over the declared parameters: the ``k`` impulse elements are the first ``k`` of all of them,
    flattened in declared order."""
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    shapes = dict(t.workload.model.params)
    sizes = [int(np.prod(s)) for s in shapes.values()]
    if sum(sizes) < k:
        raise Refusal(f"the declared parameters have {sum(sizes)} elements, fewer than the {k} steps to probe")

    def tree(vec: np.ndarray) -> dict:
        out, at = {}, 0
        for (name, shape), size in zip(shapes.items(), sizes, strict=True):
            out[name] = jnp.asarray(vec[at : at + size].reshape(shape), jnp.float32)
            at += size
        return out

    total = sum(sizes)
    params = tree(np.zeros(total, np.float32))
    state = opt.init(params)
    rows = []
    for step in range(k):
        g = np.zeros(total, np.float32)
        g[step] = 1.0
        u, state = opt.update(tree(g), state, params)
        rows.append(np.concatenate([np.asarray(u[n], np.float64).ravel() for n in shapes])[:k])
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


def _kernel(m: float, nesterov: bool, k: int) -> np.ndarray:
    """``N[d]``, the share of a gradient taken ``d`` steps ago in today's update (before the learning rate):
    ``m^d`` (plain) or ``1 + m`` today and ``m^(d+1)`` after (Nesterov's look-ahead ``g + m b``)."""
    d = np.arange(k, dtype=np.float64)
    return np.where(d == 0, 1.0 + m, m ** (d + 1)) if nesterov else m**d


def read_rule(arm: Arm, t: Target) -> tuple[str, bool | None, float, np.ndarray]:
    """``arm``'s (learning-rate placement, Nesterov, momentum, per-step learning rates), read from its
    optimizer's updates: the rule is the one of the four (plain or Nesterov, the learning rate after or before
    the buffer) whose table fits; Nesterov is None where both forms fit (no momentum)."""
    kind = kind_of(arm).switch_kind()
    k = max(4, min(int(t.workload.training.steps), MAX_STEPS))
    if kind in ("jax", "f64"):
        u = _jax_table(arm, t, k)
    elif kind == "torch":
        u = _torch_table(arm, t, k)
    else:
        raise Refusal(f"{arm.name}'s optimizer is a Keras optimizer in its worker: not a function to probe")
    diag = -np.diag(u)
    if np.any(diag <= 0) or not np.all(np.isfinite(u)):
        raise Refusal(f"{arm.name}'s optimizer does not step against an impulse gradient: not SGD")
    same = [j for j in range(k - 1) if np.isclose(diag[j], diag[j + 1], rtol=RTOL)]
    if not same:
        raise Refusal(f"{arm.name}'s learning rate changes at every step: its momentum cannot be read")
    r = float(u[same[0] + 1, same[0]] / u[same[0], same[0]])  # N[1] / N[0]: m, or m^2 / (1 + m) for Nesterov
    steps = np.arange(k)
    lag = np.maximum(steps[:, None] - steps[None, :], 0)
    below = steps[:, None] >= steps[None, :]
    fits: dict[tuple[bool, str], tuple[float, np.ndarray]] = {}
    for nesterov in (False, True):
        if nesterov and r < 0:
            continue
        m = (r + np.sqrt(r * r + 4 * r)) / 2 if nesterov else r
        n = _kernel(m, nesterov, k)
        lrs = diag / n[0]
        power = np.where(below, n[lag], 0.0)
        for rule, lr in ((AFTER, lrs[:, None]), (BEFORE, lrs[None, :])):
            if np.allclose(u, -lr * power, rtol=RTOL, atol=1e-12):
                fits[(nesterov, rule)] = (float(m), lrs)
    if not fits:
        raise Refusal(
            f"{arm.name}'s updates fit no SGD momentum rule (plain or Nesterov, w -= lr_k b with b = m b + g, or "
            "v = m v - lr_k g): not SGD momentum"
        )
    nesterovs = {n for n, _ in fits}
    rules = {r for _, r in fits}
    ahead = nesterovs.pop() if len(nesterovs) == 1 else None
    m, lrs = fits[(bool(ahead), sorted(rules)[0])]
    return (rules.pop() if len(rules) == 1 else EITHER), ahead, m, lrs


def read(arm: Arm, t: Target) -> tuple[str, float, np.ndarray]:
    """``arm``'s (rule, momentum, per-step learning rates), read from its optimizer's updates (``read_rule``)."""
    rule, _, m, lrs = read_rule(arm, t)
    return rule, m, lrs


def _plan(arm: Arm, t: Target) -> tuple[str, bool, float, np.ndarray]:
    mine, nesterov, m, lrs = read_rule(arm, t)
    theirs = read_rule(t.other, t)[0]
    if EITHER in (mine, theirs):
        who = arm.name if mine == EITHER else t.other.name
        raise Refusal(f"nothing to change: {who}'s updates are {EITHER}")
    if mine == theirs:
        raise Refusal(f"nothing to change: both apply the learning rate {mine}")
    return theirs, bool(nesterov), m, lrs


def jax_optimizer(rule: str, nesterov: bool, m: float, lrs: np.ndarray):
    """``optimizer(lr)``: SGD momentum ``m`` (Nesterov or not) with the learning rate of step k from ``lrs``
    (the last one after), applied ``rule`` (after or before the buffer); ``lr`` is not read."""
    table = [float(v) for v in lrs]

    def optimizer(lr):
        import jax.numpy as jnp  # late: a framework: loads after the numerics flags
        import optax  # late: a framework: loads after the numerics flags

        rates = jnp.asarray(table)

        def schedule(count):
            return rates[jnp.minimum(count, len(table) - 1)]

        lr_t = optax.scale_by_learning_rate(schedule)
        trace = optax.trace(m, nesterov=nesterov)
        return optax.chain(lr_t, trace) if rule == BEFORE else optax.chain(trace, lr_t)

    optimizer.__qualname__ = f"sgd_momentum[lr {rule}, m={m:.6g}{', nesterov' if nesterov else ''}]"
    return optimizer


def torch_optimizer(rule: str, nesterov: bool, m: float, lrs: np.ndarray):
    """``torch_optimizer(params, lr)``: ``jax_optimizer``'s rule in torch (``_torch_sgd``)."""
    table = [float(v) for v in lrs]

    def optimizer(params, lr):
        return _torch_sgd(params, m, table, rule, nesterov)

    optimizer.__qualname__ = f"torch_sgd_momentum[lr {rule}, m={m:.6g}{', nesterov' if nesterov else ''}]"
    return optimizer


def _jax(arm: Arm, t: Target) -> Arm:
    return replace(arm, optimizer=jax_optimizer(*_plan(arm, t)))


def _torch_sgd(params, m: float, table: list[float], rule: str, nesterov: bool = False):
    import torch  # late: a framework: loads after the numerics flags

    class ScheduledMomentum(torch.optim.Optimizer):
        """SGD momentum with the learning rate of step k from ``table``: ``b = m b + g; w -= lr_k b`` (after the
        buffer) or ``v = m v - lr_k g; w += v`` (before it), in the parameters' dtype; Nesterov's look-ahead
        ``w -= lr_k (g + m b)`` or ``w += m v - lr_k g``."""

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
                        p.add_(p.grad + m * buf if nesterov else buf, alpha=-lr)
                    else:
                        buf.mul_(m).add_(p.grad, alpha=-lr)
                        p.add_(m * buf - lr * p.grad if nesterov else buf)
            self.count += 1

    return ScheduledMomentum(list(params.values()))


def _torch(arm: Arm, t: Target) -> Arm:
    return replace(arm, torch_optimizer=torch_optimizer(*_plan(arm, t)))


def _keras(arm: Arm, t: Target) -> Arm:
    theirs = read_rule(t.other, t)[0]
    if theirs == EITHER:
        raise Refusal(f"nothing to change: {t.other.name}'s updates are {EITHER}")
    if theirs == BEFORE:
        raise Refusal(f"nothing to change: Keras's SGD and {t.other.name} both apply the learning rate {BEFORE}")
    if t.rows_self:
        if t.row("optimizer") != "SGD":
            raise Refusal(f"{arm.name}'s optimizer is {t.row('optimizer')}, not a keras.optimizers.SGD")
        if not t.row("optimizer.momentum"):
            raise Refusal(f"nothing to change: {arm.name}'s SGD keeps no momentum (either placement alike)")
    edit = KerasEdit("optimizer", "SGD", keras_optimizers.MOMENTUM_PLACEMENT, keras_optimizers.AFTER_BUFFER)
    return replace(arm, keras_edits=(*arm.keras_edits, edit))


SWITCH = Switch(
    name="momentum learning-rate placement",
    family="optimizer",
    description="SGD momentum with the learning rate applied after the buffer (optax, torch) vs before it (Keras)",
    rows=("momentum", "optimizer", "learning rate schedule"),
    demonstrated_by="momentum-schedule",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch, "keras": _keras},
)
