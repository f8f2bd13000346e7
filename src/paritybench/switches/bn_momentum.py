"""BatchNormalization's moving-average momentum: the share of the old moving statistics kept per update
(Keras's ``momentum`` 0.99; torch's ``momentum`` 0.1 is the share of the *new* batch, i.e. keep 0.9), switched
to the other arm's, keeping the arm's own batch statistics. Demonstrated by batchnorm-momentum.

Read from the code, not the declarations. A JAX or f64 arm's keep factor is probed by running its forward pass
in training mode on a few training rows from two model states (zeros and ones): ``new = keep * old + (1 - keep)
* batch`` gives ``keep = new(ones) - new(zeros)``; its switched forward pass returns ``keep_b * old + (1 -
keep_b) * batch_a`` with ``batch_a = (new_a - keep_a * old) / (1 - keep_a)``. A torch arm's is read from the
``torch.nn.functional.batch_norm`` calls its forward pass makes (``bn_calls``: ``keep = 1 - momentum``), and
its switched forward pass calls ``batch_norm`` with ``momentum = 1 - keep_b``. A Keras arm's
``BatchNormalization`` layers are rebuilt with ``momentum = keep_b`` (``keras_edits``;
``keras/src/layers/normalization/batch_normalization.py``: ``moving * momentum + batch * (1 - momentum)``)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches import bn_calls, keras_edits
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, resolve_ref


def keep_factor(apply_ref, t: Target) -> float:
    """The share of the old moving statistics ``apply_ref``'s training step keeps (one value for all)."""
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    apply = resolve_ref(apply_ref)
    params = {k: jnp.asarray(v) for k, v in t.init.items()}
    x = jnp.asarray(t.x)
    new = []
    for fill in (0.0, 1.0):
        state = {k: jnp.full(np.shape(v), fill, jnp.float32) for k, v in t.state.items()}
        _, s = apply(params, x, state=state, training=True)
        new.append({k: np.asarray(v, np.float64) for k, v in s.items()})
    keeps = np.concatenate([(new[1][k] - new[0][k]).ravel() for k in new[0]])
    keep = float(np.median(keeps))
    if not np.allclose(keeps, keep, rtol=1e-3, atol=1e-5):
        raise Refusal("the moving statistics do not follow keep * old + (1 - keep) * batch with one keep factor")
    return float(f"{keep:.6g}")


def keep_of(arm: Arm, t: Target) -> float:
    """``arm``'s keep factor: probed (a JAX or f64 arm) or read from its ``batch_norm`` calls (a torch arm)."""
    kind = kind_of(arm).name
    if kind in ("jax", "f64"):
        return keep_factor(arm.jax_apply or t.workload.model.jax_apply, t)
    if kind == "torch":
        return bn_calls.keep(bn_calls.one(bn_calls.record(arm, t), "momentum", arm))
    raise Refusal(f"{arm.name}'s moving statistics are updated inside Keras, in its worker: not a function to read")


def _jax(arm: Arm, t: Target) -> Arm:
    if not t.workload.model.state:
        raise Refusal(f"workload {t.workload.name} keeps no model state (no moving statistics)")
    mine = arm.jax_apply or t.workload.model.jax_apply
    keep_a = keep_factor(mine, t)
    keep_b = keep_of(t.other, t)
    if keep_a == keep_b:
        raise Refusal(f"nothing to change: both keep {keep_a:g} of the old moving statistics")
    if keep_a >= 1.0:
        raise Refusal(f"{arm.name} keeps all of its old moving statistics: its batch statistics cannot be recovered")
    own = resolve_ref(mine)

    def switched(params, x, state=None, training=True):
        out = own(params, x, state=state, training=training)
        if not training:
            return out
        logits, new = out
        return logits, {
            k: keep_b * state[k] + (1.0 - keep_b) * ((new[k] - keep_a * state[k]) / (1.0 - keep_a)) for k in new
        }

    switched.__qualname__ = f"bn_keep[{keep_a:g}->{keep_b:g}]"
    return replace(arm, jax_apply=switched, jax_layers=None)


def _torch(arm: Arm, t: Target) -> Arm:
    if not t.workload.model.state:
        raise Refusal(f"workload {t.workload.name} keeps no model state (no moving statistics)")
    keep_a = bn_calls.keep(bn_calls.one(bn_calls.record(arm, t), "momentum", arm))
    keep_b = keep_of(t.other, t)
    if keep_a == keep_b:
        raise Refusal(f"nothing to change: both keep {keep_a:g} of the old moving statistics")
    momentum = float(f"{1.0 - keep_b:.6g}")
    return bn_calls.with_setting(arm, t, "momentum", momentum, f"momentum={momentum:g}")


def _keras(arm: Arm, t: Target) -> Arm:
    if not t.workload.model.state:
        raise Refusal(f"workload {t.workload.name} keeps no model state (no moving statistics)")
    keep_b = keep_of(t.other, t)  # Keras's momentum is the keep factor: moving * momentum + batch * (1 - momentum)
    return keras_edits.layer(arm, t, "BatchNormalization", "momentum", keep_b, "BatchNormalization momentum")


SWITCH = Switch(
    name="batchnorm momentum",
    family="normalisation",
    description="the share of the old moving statistics kept per update (Keras momentum vs torch 1 - momentum)",
    rows=("moving average", "momentum", "bn.momentum"),
    demonstrated_by="batchnorm-momentum",
    appliers={"jax": _jax, "f64": _jax, "torch": _torch, "keras": _keras},
)
