"""Master weights precision: whether an arm's optimizer keeps the weights in float32 (Keras's ``mixed_bfloat16``
policy: float32 variables, bfloat16 compute) or in 16-bit, with no float32 master copy (a port that trains
``p.astype(bfloat16)``: every update is rounded to the weight's bfloat16 grid and one below half a bf16 ulp is
lost), switched to float32 master weights with the same update rule. Demonstrated by mixed-precision.

Read from the code, not the declarations: each arm's optimizer is built at the run's learning rate and stepped once
on float32 weights off the bfloat16 grid (``PROBE`` entries in [0.0625, 0.125), bf16 ulp 2**-10 there), with a
gradient whose SGD update ``lr g`` is far below half a bf16 ulp (and, to read the rule, once with one of 16 ulps).
An optimizer keeps 16-bit weights where its new weights all lie on the bfloat16 grid (for SGD the small update is
then lost: the weights stay at ``bf16(w)``); float32 where the small update moves every weight and leaves none on
that grid. The switched optimizer is ``optax.sgd(lr)`` on the float32 weights, offered only where the 16-bit
optimizer's large update is plain SGD's rounded to bfloat16 (within one bf16 ulp of ``w - lr g``); any other rule is
refused, as are float16 grids and an arm that already keeps float32 weights.

A Keras arm's variables take each layer's dtype policy's variable dtype (``keras/src/dtype_policies/dtype_policy.py``:
float32 under ``float32`` and the ``mixed_*`` policies, 16-bit under ``bfloat16`` / ``float16``), read from its
``layer <name> dtype policy`` rows: under a mixed policy it keeps float32 weights already (nothing to change).
Layers with 16-bit variables are rebuilt under the mixed policy of their 16-bit type (``keras_edits``, ``only`` those
layers, the weights copied): float32 variables, the same 16-bit compute (``DTypePolicy.compute_dtype``: each layer
casts its inputs to it and, in its ``AutocastScope``, its variables' values). The weights handed to the arm then stay
float32, as the other arm's master weights do (a 16-bit variable rounds them where they are assigned), and each
update is applied in float32. The other arm's precision is read as above (a JAX or f64 arm) or from its policies (a
Keras arm); where it keeps 16-bit weights too there is nothing to change."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from paritybench.arms.registry import kind_of
from paritybench.switches import keras_edits
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, KerasEdit, resolve_ref

PROBE = 256
F32, BF16 = "float32", "bfloat16 (no float32 master copy)"


def _bf16(a: np.ndarray) -> np.ndarray:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    return np.asarray(jnp.asarray(a, jnp.float32).astype(jnp.bfloat16).astype(jnp.float32))


def _tree(t: Target, a: np.ndarray) -> dict:
    """``a`` laid over the workload's parameters (its names and shapes, repeated to fill each): an optimizer over
    the model's own parameters (an adapter's, which maps them onto the user's tree) takes nothing else."""
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    params = dict(t.workload.model.params) if t.workload is not None else {"w": a.shape}
    return {k: jnp.asarray(np.resize(a, s), jnp.float32) for k, s in params.items()}


def _step(arm: Arm, t: Target, w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """One optimizer step from weights ``w`` with gradient ``g``, over every parameter: the new weights, flat."""
    import optax  # late: a framework: loads after the numerics flags

    opt = resolve_ref(arm.optimizer)(t.lr) if arm.optimizer is not None else optax.sgd(t.lr)
    params = _tree(t, w)
    try:
        u, _ = opt.update(_tree(t, g), opt.init(params), params)
    except Exception as exc:  # an optimizer that takes no tree of the workload's parameters: not probed here
        raise Refusal(
            f"{arm.name}'s optimizer cannot be stepped on the workload's parameters ({type(exc).__name__}: "
            f"{str(exc).splitlines()[0] if str(exc) else ''}): its weights' precision is not probed"
        ) from None
    new = optax.apply_updates(params, u)
    return np.concatenate([np.ravel(np.asarray(new[k], np.float32)) for k in params])


def _flat(t: Target, a: np.ndarray) -> np.ndarray:
    return np.concatenate([np.ravel(np.asarray(v)) for v in _tree(t, a).values()])


def probe_weights() -> np.ndarray:
    """float32 weights in [0.0625, 0.125), none on the bfloat16 grid."""
    w = np.linspace(0.0625, 0.125, PROBE, endpoint=False, dtype=np.float32) + np.float32(2**-17)
    assert not np.any(_bf16(w) == w)
    return w


def read(arm: Arm, t: Target) -> str:
    """``arm``'s master weights precision, from one optimizer step on ``probe_weights``."""
    if kind_of(arm).switch_kind() not in ("jax", "f64"):
        raise Refusal(f"{arm.name}'s optimizer is not an optax one: its weights' precision is not probed here")
    w = probe_weights()
    ulp = 2.0**-10  # bfloat16's ulp in [0.0625, 0.125)
    small = _step(arm, t, w, np.full_like(w, ulp / 64 / t.lr))
    on_grid = _bf16(small) == small
    if np.all(on_grid):
        return BF16
    if np.all(small != _flat(t, w)) and not np.any(on_grid):
        return F32
    raise Refusal(f"{arm.name}'s optimizer neither keeps bfloat16 weights nor applies a small update in float32")


def _jax(arm: Arm, t: Target) -> Arm:
    mine, theirs = read(arm, t), read(t.other, t)
    if mine == theirs:
        raise Refusal(f"nothing to change: both keep {mine} weights")
    if mine == F32:
        raise Refusal(f"{arm.name} keeps float32 weights: switching to 16-bit weights is not offered")
    w = probe_weights()
    g = np.full_like(w, 16 * 2.0**-10 / t.lr)  # an update of 16 bf16 ulps: SGD's, rounded, if the rule is SGD
    big = _step(arm, t, w, g)
    if not np.all(np.abs(big - (_flat(t, w) - t.lr * _flat(t, g))) <= 2.0**-10):
        raise Refusal(f"{arm.name}'s 16-bit update is not plain SGD's: no float32 form of its rule is known here")

    def sgd_f32(lr):
        import optax  # late: a framework: loads after the numerics flags

        return optax.sgd(lr)

    sgd_f32.__qualname__ = "sgd[float32 master weights]"
    return replace(arm, optimizer=sgd_f32)


def _keras(arm: Arm, t: Target) -> Arm:
    policies = {name: str(p) for name, p in keras_edits.layer_values(t, "dtype policy").items()}
    if not t.rows_self:
        raise Refusal(f"{arm.name}'s conventions rows were not read: its layers' dtype policies are unknown")
    narrow = sorted(name for name, p in policies.items() if p in ("bfloat16", "float16"))
    if not narrow:
        raise Refusal(
            f"nothing to change: {arm.name}'s layers keep float32 variables (policies {sorted(set(policies.values()))}"
            ": a mixed policy computes in 16 bits on float32 variables)"
        )
    kind = t.other_kind()
    if kind in ("jax", "f64"):
        theirs = read(t.other, t)
    elif kind == "keras":
        other = keras_edits.layer_values(t, "dtype policy", other=True).values()
        theirs = BF16 if any(str(p) in ("bfloat16", "float16") for p in other) else F32
    else:
        raise Refusal(f"{t.other.name}'s optimizer is not an optax one: its weights' precision is not probed here")
    if theirs != F32:
        raise Refusal(f"nothing to change: {t.other.name} keeps 16-bit weights too")
    # only= the layer's policy's name (keras_worker reads a DTypePolicy config's name): the other layers keep theirs
    types = sorted({policies[name] for name in narrow})
    edits = tuple(KerasEdit("layer", "Layer", "dtype", f"mixed_{p}", only=p) for p in types)
    return replace(arm, keras_edits=(*arm.keras_edits, *edits))


SWITCH = Switch(
    name="master weights precision",
    family="numerics",
    description="an optimizer that keeps bfloat16 weights (no float32 master copy) -> float32 weights, same SGD rule",
    rows=("dtype policy",),
    demonstrated_by="mixed-precision",
    appliers={"jax": _jax, "f64": _jax, "keras": _keras},
    refusals={
        "torch": "a torch arm's optimizer steps its parameters in their own dtype: no master-weights setting here",
    },
)
