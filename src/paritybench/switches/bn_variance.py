"""BatchNormalization's moving-variance estimator: the batch variance averaged into the moving variance is the
unbiased one (x n/(n-1): torch's ``running_var``) or the biased one (Keras's ``moving_variance``, the variance
that normalised the batch), switched to the other arm's, keeping the arm's own keep factor and batch statistics.
Demonstrated by batchnorm-variance.

Read from the code, not the declarations: each arm's forward pass runs in training mode on the same ``n``
training rows from the shared initial weights, from two model states (zeros and ones). ``keep = new(ones) -
new(zeros)`` and the batch term is ``new(zeros) / (1 - keep)``, per element of each state tensor. Where the two
arms' forward passes agree up to the BatchNormalization, the batch terms are equal (a mean) or in the ratio
``n/(n-1)`` (one arm's variance unbiased, the other's biased). The switched arm's forward pass returns its own
moving statistics with the batch term of each such tensor rescaled by ``(n-1)/n`` (or ``n/(n-1)``), ``n`` the
batch it is given."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, resolve_ref

RTOL = 1e-3  # the ratio n/(n-1) read within this relative tolerance (float32 forward passes)


def _jax_terms(apply_ref, t: Target) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    apply = resolve_ref(apply_ref)
    params = {k: jnp.asarray(v) for k, v in t.init.items()}
    x = jnp.asarray(t.x)
    new = []
    for fill in (0.0, 1.0):
        state = {k: jnp.full(np.shape(v), fill, x.dtype) for k, v in t.state.items()}
        _, s = apply(params, x, state=state, training=True)
        new.append({k: np.asarray(v, np.float64) for k, v in s.items()})
    return {k: (new[0][k], new[1][k]) for k in new[0]}


def _torch_terms(apply_ref, t: Target) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    import torch  # late: a framework: loads after the numerics flags

    apply = resolve_ref(apply_ref)
    params = {k: torch.tensor(np.asarray(v, np.float32)) for k, v in t.init.items()}
    x = torch.tensor(np.asarray(t.x, np.float32))
    new = []
    with torch.no_grad():
        for fill in (0.0, 1.0):
            state = {k: torch.full(np.shape(v), fill, dtype=torch.float32) for k, v in t.state.items()}
            _, s = apply(params, x, state, True)
            new.append({k: v.detach().numpy().astype(np.float64) for k, v in s.items()})
    return {k: (new[0][k], new[1][k]) for k in new[0]}


def batch_terms(arm: Arm, t: Target, kind: str) -> dict[str, np.ndarray]:
    """Per state tensor, the batch statistic ``arm``'s training step averages in (``new(zeros) / (1 - keep)``)."""
    if kind in ("jax", "f64"):
        terms = _jax_terms(arm.jax_apply or t.workload.model.jax_apply, t)
    elif kind == "torch":
        if (arm.torch_apply or t.workload.model.torch_apply) is None:
            raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")
        terms = _torch_terms(arm.torch_apply or t.workload.model.torch_apply, t)
    else:
        raise Refusal(f"{arm.name}'s moving statistics are updated inside Keras: not a function to probe")
    out = {}
    for k, (zero, one) in terms.items():
        keep = one - zero
        if np.any(keep >= 1.0 - 1e-6):
            raise Refusal(f"{arm.name} keeps all of its old {k}: its batch statistic cannot be read")
        out[k] = zero / (1.0 - keep)
    return out


def factors(mine: dict[str, np.ndarray], theirs: dict[str, np.ndarray], n: int) -> dict[str, float]:
    """Per state tensor, the factor that takes my batch term to theirs: 1, (n-1)/n or n/(n-1); a ``Refusal``
    where a tensor's terms are in no such ratio (the forward passes differ before the normalisation)."""
    if set(mine) != set(theirs):
        raise Refusal(f"the arms keep different model state ({sorted(mine)} vs {sorted(theirs)})")
    out = {}
    for k in mine:
        a, b = mine[k], theirs[k]
        for f in (1.0, (n - 1) / n, n / (n - 1)):
            if np.allclose(a * f, b, rtol=RTOL, atol=1e-6):
                out[k] = f
                break
        else:
            raise Refusal(
                f"the batch terms of {k} differ by no variance correction n/(n-1) (the forward passes differ)"
            )
    return out


def _plan(arm: Arm, t: Target) -> dict[str, str]:
    """Which state tensors to rescale: ``{name: "biased"|"unbiased"}`` (what the switched arm averages in)."""
    if not t.workload.model.state:
        raise Refusal(f"workload {t.workload.name} keeps no model state (no moving variance)")
    n = int(np.shape(t.x)[0])
    if n < 2:
        raise Refusal("one probe row: the variance correction n/(n-1) is undefined")
    fs = factors(batch_terms(arm, t, kind_of(arm).switch_kind()), batch_terms(t.other, t, t.other_kind()), n)
    plan = {k: ("biased" if f < 1.0 else "unbiased") for k, f in fs.items() if f != 1.0}
    if not plan:
        raise Refusal(f"nothing to change: {arm.name} and {t.other.name} average the same batch variance")
    return plan


def _keeps(arm: Arm, t: Target) -> dict[str, np.ndarray]:
    """Per state tensor, the share of the old value ``arm``'s training step keeps."""
    if kind_of(arm).switch_kind() in ("jax", "f64"):
        terms = _jax_terms(arm.jax_apply or t.workload.model.jax_apply, t)
    else:
        terms = _torch_terms(arm.torch_apply or t.workload.model.torch_apply, t)
    return {k: (one - zero).astype(np.float32) for k, (zero, one) in terms.items()}


def _factor(rule: str, n: int) -> float:
    return (n - 1) / n if rule == "biased" else n / (n - 1)


def _jax(arm: Arm, t: Target) -> Arm:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    plan = _plan(arm, t)
    keeps = _keeps(arm, t)
    own = resolve_ref(arm.jax_apply or t.workload.model.jax_apply)
    initial = dict(t.state)

    def switched(params, x, state=None, training=True):
        out = own(params, x, state=state, training=training)
        if not training:
            return out
        logits, new = out
        old = state if state is not None else {k: jnp.asarray(v, x.dtype) for k, v in initial.items()}
        n = x.shape[0]
        return logits, {
            k: v + (_factor(plan[k], n) - 1.0) * (v - jnp.asarray(keeps[k], v.dtype) * old[k]) if k in plan else v
            for k, v in new.items()
        }

    switched.__qualname__ = "bn_variance[" + ", ".join(f"{k}: {r}" for k, r in sorted(plan.items())) + "]"
    return replace(arm, jax_apply=switched, jax_layers=None)


def _torch(arm: Arm, t: Target) -> Arm:
    import torch  # late: a framework: loads after the numerics flags

    plan = _plan(arm, t)
    keeps = _keeps(arm, t)
    ref = arm.torch_apply or t.workload.model.torch_apply
    if ref is None:
        raise Refusal(f"workload {t.workload.name} declares no Model.torch_apply")
    own = resolve_ref(ref)
    initial = dict(t.state)

    def switched(params, x, state=None, training=True):
        out = own(params, x, state, training)
        if not training:
            return out
        logits, new = out
        if state is None:
            state = {
                k: torch.tensor(np.asarray(v, np.float32), dtype=x.dtype, device=x.device) for k, v in initial.items()
            }
        n = x.shape[0]
        with torch.no_grad():
            new = {
                k: v
                + (_factor(plan[k], n) - 1.0)
                * (v - torch.as_tensor(keeps[k], dtype=v.dtype, device=v.device) * state[k])
                if k in plan
                else v
                for k, v in new.items()
            }
        return logits, new

    switched.__qualname__ = "torch_bn_variance[" + ", ".join(f"{k}: {r}" for k, r in sorted(plan.items())) + "]"
    return replace(arm, torch_apply=switched, torch_layers=None)


SWITCH = Switch(
    name="batchnorm variance estimator",
    family="normalisation",
    description="the batch variance averaged into the moving variance: unbiased (x n/(n-1), torch) vs biased (Keras)",
    rows=("moving variance", "bn.running_var", "moving average"),
    demonstrated_by="batchnorm-variance",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch},
    refusals={
        "keras": "Keras's BatchNormalization moves its moving variance by the batch's biased variance "
        "(ops.moments): no config for the unbiased one"
    },
)
