"""Compute dtype: the dtype an arm's forward pass multiplies in (Keras's ``mixed_bfloat16`` policy: float32
weights, each Dense's matmul, bias and activation in bfloat16) switched to the other arm's. Demonstrated by
mixed-precision (its bf16-weights port computes in bfloat16 where the float64 reference computes in its
parameters' dtype).

Read from the code: the arm's forward pass is traced (``jax.make_jaxpr``) on float32 parameters and a few
training rows, and its compute dtypes are the result dtypes of every ``dot_general`` and ``conv_general_dilated``
in the program (sub-programs of ``jit`` and custom derivatives included). The switch is offered from a 16-bit
compute dtype (bfloat16, float16) to the other arm's, where that is the parameters' dtype (float32 on the probe):
the switched forward pass is the arm's own program, re-run with every dtype setting equal to the 16-bit dtype (a
``convert_element_type``'s ``new_dtype``, a ``dot_general``'s ``preferred_element_type``) set to the dtype of the
parameters it is called with, so each cast to 16 bits becomes a cast to the parameters' dtype and every op after
it computes there. A custom derivative rule inside it is replaced by the derivative of its forward function; a
program with a loop or a branch (``scan``, ``while``, ``cond``) is refused. Switching a wider compute dtype down
to 16 bits is not offered. JAX and f64 arms; torch arms are refused.

A Keras arm's compute dtype is its layers' dtype policies (``keras/src/dtype_policies/dtype_policy.py``: a
``mixed_bfloat16`` or ``mixed_float16`` policy keeps float32 variables and computes in 16 bits), read from its
``layer <name> dtype policy`` rows; switched to the other arm's float32 by rebuilding every layer with
``dtype="float32"`` (``keras_edits``: the variables stay float32, the weights are copied). A layer whose policy is
16-bit throughout (``bfloat16``: 16-bit variables too) is refused: Keras has no policy with 16-bit variables and
float32 compute, so its variables would change with it (the master weights switch's convention)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np

from paritybench.switches import keras_edits
from paritybench.switches.base import Refusal, Switch, Target
from paritybench.workloads.base import Arm, KerasEdit, resolve_ref

COMPUTE = ("dot_general", "conv_general_dilated")
NARROW = ("bfloat16", "float16")
INLINE = ("jit", "pjit", "closed_call", "core_call", "custom_jvp_call", "custom_vjp_call", "custom_vjp_call_jaxpr")


def _sub(eqn) -> Any:
    """The sub-program an inlined call runs (a Jaxpr or ClosedJaxpr), or None."""
    for key in ("jaxpr", "call_jaxpr", "fun_jaxpr"):
        if key in eqn.params:
            return eqn.params[key]
    return None


def _split(sub) -> tuple[Any, list]:
    return (sub.jaxpr, list(sub.consts)) if hasattr(sub, "consts") else (sub, [])


def _dtypes(jaxpr, seen: set[str]) -> None:
    for eqn in jaxpr.eqns:
        if eqn.primitive.name in COMPUTE:
            seen.update(str(v.aval.dtype) for v in eqn.outvars)
        inner = _sub(eqn)
        if inner is not None:
            _dtypes(_split(inner)[0], seen)


def _probe(apply, t: Target) -> tuple[list, dict]:
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    p = {k: jnp.asarray(v, jnp.float32) for k, v in t.init.items()}
    x = jnp.asarray(np.asarray(t.x[:8], np.float32))
    if t.state:
        st = {k: jnp.asarray(v) for k, v in t.state.items()}
        return [p, x, st], {"training": True}
    return [p, x], {}


def read(arm: Arm, t: Target) -> set[str]:
    """The result dtypes of the matmuls and convolutions ``arm``'s forward pass makes on float32 parameters."""
    import jax  # late: a framework: loads after the numerics flags

    ref = arm.jax_apply or t.workload.model.jax_apply
    if ref is None:
        raise Refusal(f"{arm.name} has no JAX forward pass to trace")
    apply = resolve_ref(ref)
    args, kwargs = _probe(apply, t)
    closed = jax.make_jaxpr(lambda *a: apply(*a, **kwargs))(*args)
    seen: set[str] = set()
    _dtypes(closed.jaxpr, seen)
    if not seen:
        raise Refusal(f"{arm.name}'s forward pass makes no dot_general or conv_general_dilated: no compute dtype")
    return seen


def _swap(v: Any, src: set[str], dst) -> Any:
    if isinstance(v, np.dtype) and str(v) in src:
        return dst
    return v


def _eval(jaxpr, consts: list, args: list, src: set[str], dst) -> list:
    """``jaxpr`` run on ``args`` with every dtype setting in ``src`` set to ``dst`` (sub-programs inlined)."""
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags
    from jax.extend import core  # late: a framework: loads after the numerics flags

    env: dict = {}

    def get(v):
        if isinstance(v, core.Literal):
            val = v.val
            return jnp.asarray(val, dst) if str(getattr(val, "dtype", "")) in src else val
        return env[v]

    def put(v, val):
        if not isinstance(v, core.DropVar):
            env[v] = val

    for v, c in zip(jaxpr.constvars, consts, strict=True):
        put(v, jnp.asarray(c, dst) if str(getattr(c, "dtype", "")) in src else c)
    for v, a in zip(jaxpr.invars, args, strict=True):
        put(v, a)
    for eqn in jaxpr.eqns:
        invals = [get(v) for v in eqn.invars]
        inner = _sub(eqn)
        if inner is not None:
            if eqn.primitive.name not in INLINE:
                raise Refusal(f"the forward pass uses {eqn.primitive.name}: its program is not re-typed here")
            sub, sub_consts = _split(inner)
            n = len(sub.invars)
            outs = _eval(sub, sub_consts, invals[len(invals) - n :], src, dst)
        else:
            params = {k: _swap(v, src, dst) for k, v in eqn.params.items()}
            out = eqn.primitive.bind(*invals, **params)
            outs = list(out) if eqn.primitive.multiple_results else [out]
        for v, val in zip(eqn.outvars, outs, strict=True):
            put(v, val)
    return [get(v) for v in jaxpr.outvars]


def retyped(apply, src: set[str]):
    """``apply`` re-run with its ``src`` dtype settings set to its parameters' dtype (the first parameter's)."""
    import jax  # late: a framework: loads after the numerics flags

    def run(params, *args, **kwargs):
        leaves = jax.tree.leaves(params)
        dst = np.dtype(leaves[0].dtype)
        static = [not hasattr(a, "dtype") and not isinstance(a, dict) for a in args]

        def fn(p, *dyn):
            it = iter(dyn)
            full = [a if s else next(it) for a, s in zip(args, static, strict=True)]
            return apply(p, *full, **kwargs)

        dyn = [a for a, s in zip(args, static, strict=True) if not s]
        closed, shape = jax.make_jaxpr(fn, return_shape=True)(params, *dyn)
        flat = jax.tree.leaves((params, *dyn))
        outs = _eval(closed.jaxpr, list(closed.consts), flat, src, dst)
        return jax.tree.unflatten(jax.tree.structure(shape), outs)

    return run


def _jax(arm: Arm, t: Target) -> Arm:
    if t.other_kind() not in ("jax", "f64"):
        raise Refusal(f"{t.other.name}'s forward pass is not a JAX function: its compute dtype is not read here")
    mine, theirs = read(arm, t), read(t.other, t)
    if mine == theirs:
        raise Refusal(f"nothing to change: both compute in {', '.join(sorted(mine))}")
    narrow = mine & set(NARROW)
    if not narrow:
        raise Refusal(f"{arm.name} computes in {', '.join(sorted(mine))}: switching down to 16 bits is not offered")
    if theirs != {"float32"}:
        raise Refusal(
            f"{t.other.name} computes in {', '.join(sorted(theirs))} on float32 parameters, not in their dtype: "
            "no switch to it is offered"
        )
    own = resolve_ref(arm.jax_apply or t.workload.model.jax_apply)
    run = retyped(own, narrow)
    run.__qualname__ = f"{getattr(own, '__name__', 'apply')}[compute {'+'.join(sorted(narrow))} -> parameters' dtype]"
    switched = replace(arm, jax_apply=run, jax_layers=None)
    args, kwargs = _probe(run, t)
    run(*args, **kwargs)  # the trial: a program that cannot be re-typed is refused before anything trains
    return switched


def _keras(arm: Arm, t: Target) -> Arm:
    if t.other_kind() not in ("jax", "f64"):
        raise Refusal(f"{t.other.name}'s forward pass is not a JAX function: its compute dtype is not read here")
    policies = keras_edits.layer_values(t, "dtype policy")
    narrow = {name: p for name, p in policies.items() if any(n in str(p) for n in NARROW)}
    if t.rows_self and not narrow:
        raise Refusal(f"nothing to change: {arm.name}'s layers compute in 32 bits ({sorted(set(policies.values()))})")
    whole = sorted(name for name, p in narrow.items() if not str(p).startswith("mixed_"))
    if whole:
        raise Refusal(
            f"{arm.name}'s layers {whole} keep 16-bit variables too (policy {narrow[whole[0]]}): Keras has no policy "
            "with 16-bit variables and float32 compute"
        )
    theirs = read(t.other, t)
    if theirs != {"float32"}:
        raise Refusal(f"{t.other.name} computes in {', '.join(sorted(theirs))} on float32 parameters: not float32")
    return replace(arm, keras_edits=(*arm.keras_edits, KerasEdit("layer", "Layer", "dtype", "float32")))


SWITCH = Switch(
    name="compute dtype",
    family="numerics",
    description="a forward pass computing in bfloat16 / float16 -> in its parameters' dtype, read from its program",
    rows=("dtype policy", "compute dtype"),
    demonstrated_by="mixed-precision",
    appliers={"jax": _jax, "f64": _jax, "keras": _keras},
    refusals={"torch": "a torch arm's compute dtype is not read from its program here (no jaxpr to trace)"},
)
