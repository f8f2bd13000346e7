"""flax models reduced to the JAX adapter (:class:`arms.JaxModel`): a pure ``apply(params, x)`` over a dict
pytree, the user's optax transformation and loss (flax is the optional extra ``flax``; imported when called).

- linen: the user's ``nn.Module`` instance. ``init(seed)`` is ``module.init(PRNGKey(seed), zeros((1,
  *example_shape)))["params"]`` (the tree in forward order: a submodule's params are created at its first
  call, whatever flax's numbering of its name), ``apply(params, x)`` is ``module.apply({"params": params}, x)``, and
  ``localize``'s forward phase reads every submodule's output by ``capture_intermediates`` (named by flax's
  paths, ``Dense_0``, ``Block_0/Dense_1``). A module with other variable collections (``batch_stats``) is
  refused: the adapter trains ``params`` only.
- nnx: the user's ``build(seed) -> nnx.Module`` (``MLP(..., rngs=nnx.Rngs(seed))``). ``nnx.split(model,
  nnx.Param, ...)`` gives the params as a ``State``; ``init(seed)`` is its ``nnx.to_pure_dict`` with each level's
  keys in the order ``__init__`` assigned the attributes (nnx's own state is sorted by name, which is not the
  forward order), ``apply(params, x)`` is ``nnx.merge(graphdef, params, rest)(x)`` after
  ``nnx.replace_by_pure_dict`` on a copy of the ``State``. The forward phase shows the logits only.

Either takes the user's own train step (``step=``, the ``jax-step`` arm, as :class:`JaxModel`): a linen step is
plain JAX over the ``params`` collection, ``step(params, opt_state, x, y) -> (params, opt_state, loss)``; an nnx
step is ``step(model, optimizer, x, y) -> loss`` (``@nnx.jit``), updating the model and its ``nnx.Optimizer`` in
place, converted through merge/split (``_nnx_step``).

flax names a Dense kernel ``(in, out)`` and a Conv kernel ``(*k, in, out)``: the layout Keras shares, so the
declared weights map onto both with ``identity`` rows (``jax_params``' docstring).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, NamedTuple

from paritybench.errors import ParityError
from paritybench.workloads.base import Ref, resolve_ref

from .arms import JaxModel, _as, _label, _where, user_call


class NnxStepState(NamedTuple):
    """The state of an nnx model with its own step: the optax state and ``nnx.Optimizer``'s own ``step`` counter
    (a uint32, as flax/nnx/training/optimizer.py:161 makes it), both carried between the arm's steps."""

    inner: Any
    step: Any


def _counted(tx: Any) -> Any:
    """``tx`` with nnx's step counter beside its state: ``update`` increments it once, as ``nnx.Optimizer.update``
    does (optimizer.py:229), so the plain arm's state and the user's step's stay alike."""
    import jax.numpy as jnp  # late: a framework: the arm runs after the numerics flags
    import optax  # late: a framework: the arm runs after the numerics flags

    def init(params: Any) -> NnxStepState:
        return NnxStepState(tx.init(params), jnp.zeros((), jnp.uint32))

    def update(grads: Any, state: NnxStepState, params: Any = None) -> tuple[Any, NnxStepState]:
        updates, inner = tx.update(grads, state.inner, params)
        return updates, NnxStepState(inner, state.step + jnp.uint32(1))

    return optax.GradientTransformation(init, update)


def _flax() -> Any:
    try:
        import flax  # late: an optional extra, and a framework: loaded after the numerics flags
    except ImportError:
        raise ParityError(
            'the flax adapter needs flax: make setup EXTRAS="--extra cpu --extra flax" (or pip install flax)'
        ) from None
    return flax


def _get(ref: Any) -> Any:
    return resolve_ref(ref) if isinstance(ref, str) else ref


def _plain(tree: Mapping[str, Any]) -> dict[str, Any]:
    """Nested plain dicts in the tree's own order (a FrozenDict too)."""
    return {k: _plain(v) if isinstance(v, Mapping) else v for k, v in tree.items()}


def linen_model(
    module: Ref,
    example_shape: tuple[int, ...],
    optimizer: Any,
    loss: Ref,
    step: Ref | None = None,
    *,
    mapping: Mapping[str, Any] | None = None,
) -> JaxModel:
    """A :class:`JaxModel` of the user's linen ``module`` (an instance, or ``"module:attribute"``). ``step``: the
    user's own train step as plain JAX, ``step(params, opt_state, x, y) -> (params, opt_state, loss)`` over the
    ``params`` collection (``module.apply({"params": params}, x)`` inside it) and ``optimizer.init(params)``'s
    state, as :class:`JaxModel` takes it (its ``jax-step`` arm)."""
    label = _label(module)

    def the_module() -> Any:
        flax = _flax()
        m = _get(module)
        if not isinstance(m, flax.linen.Module):
            raise ParityError(f"{label} is a {type(m).__name__}, not a flax.linen Module instance")
        return m

    def init(seed: int) -> dict[str, Any]:
        import jax  # late: a framework: the arm runs after the numerics flags
        import jax.numpy as jnp  # late: as above

        m = the_module()
        variables = user_call(
            f"linen init {label}", m.init, jax.random.PRNGKey(seed), jnp.zeros((1, *example_shape), jnp.float32)
        )
        others = sorted(set(variables) - {"params"})
        if others:
            raise ParityError(
                f"linen module {label} has variable collections {others} besides params; the flax adapter trains "
                "params only: write the model without them (or as a workload with Model.state)"
            )
        return _plain(variables["params"])

    def apply(params: Any, x: Any) -> Any:
        return the_module().apply({"params": params}, x)

    def layers(params: Any, x: Any) -> dict[str, Any]:
        _y, state = the_module().apply({"params": params}, x, capture_intermediates=True, mutable=["intermediates"])
        out: dict[str, Any] = {}

        def walk(tree: Mapping[str, Any], path: tuple[str, ...]) -> None:
            for k, v in tree.items():
                if k == "__call__":
                    if path:  # the module's own output is the logits
                        out["/".join(path)] = v[0]
                elif isinstance(v, Mapping):
                    walk(v, (*path, str(k)))

        walk(state.get("intermediates", {}), ())
        return out

    return JaxModel(
        _as(apply, f"{label}.apply"),
        _as(init, f"{label}.init"),
        optimizer,
        loss,
        step,
        mapping=mapping,
        layers=_as(layers, f"{label}.intermediates"),
    )


def _assignment_order(node: Any, tree: Mapping[str, Any]) -> dict[str, Any]:
    """``tree`` (an nnx pure dict, sorted by name) with each level's keys in the order the module's ``__init__``
    assigned them (``vars(node)``, as torch's registration order); keys not found there keep theirs, after."""
    attrs = list(vars(node)) if hasattr(node, "__dict__") else []
    rank = {k: i for i, k in enumerate(attrs)}
    keys = sorted(tree, key=lambda k: rank.get(k, len(rank)))

    def child(k: Any) -> Any:
        try:
            return getattr(node, k) if isinstance(k, str) else node[k]
        except (AttributeError, KeyError, IndexError, TypeError):
            return None

    return {k: _assignment_order(child(k), tree[k]) if isinstance(tree[k], Mapping) else tree[k] for k in keys}


class _Nnx:
    """The split of the user's nnx model at ``build(0)``: the graph, the params ``State`` and the rest."""

    def __init__(self, build: Ref) -> None:
        self.build, self.label = build, _label(build)

    def model(self, seed: int) -> Any:
        flax = _flax()
        m = user_call(f"nnx model {self.label}", _get(self.build), seed)
        if not isinstance(m, flax.nnx.Module):
            raise ParityError(f"{self.label} returns a {type(m).__name__}: return a flax.nnx Module")
        return m

    @functools.cached_property
    def split(self) -> tuple[Any, Any, list[Any]]:
        from flax import nnx  # late: an optional extra, loaded by model() first

        graph, params, *rest = nnx.split(self.model(0), nnx.Param, ...)
        return graph, params, rest


NNX_STEP_RETURNS = "return the loss, (loss, aux) or {'loss': loss, ...}, after optimizer.update(model, grads)"


def _nnx_loss(what: str, out: Any) -> Any:
    """The loss an nnx step returned (a scalar, ``(loss, aux)`` or metrics holding ``"loss"``), else one line."""
    loss = out
    if isinstance(out, Mapping):
        if "loss" not in out:
            raise ParityError(
                f"{what} returns metrics without 'loss' ({', '.join(map(str, out)) or 'empty'}): {NNX_STEP_RETURNS}"
            )
        loss = out["loss"]
    elif isinstance(out, (tuple, list)):
        if len(out) != 2:
            raise ParityError(f"{what} returns a {len(out)}-tuple: {NNX_STEP_RETURNS}")
        loss = out[0]
    if loss is None or isinstance(loss, (str, bytes)) or not hasattr(loss, "__float__") and not hasattr(loss, "shape"):
        raise ParityError(
            f"{what} returns {'None' if loss is None else 'a ' + type(loss).__name__}: {NNX_STEP_RETURNS}"
        )
    if getattr(loss, "shape", ()) != ():
        raise ParityError(f"{what} returns a loss of shape {tuple(loss.shape)}, not a scalar: {NNX_STEP_RETURNS}")
    return loss


def _nnx_step(split: _Nnx, user_step: Ref, optimizer: Any) -> Any:
    """The user's nnx train step ``step(model, optimizer, x, y) -> loss`` as :class:`JaxModel` takes a step:
    ``(params, opt_state, x, y) -> (params, opt_state, loss)`` over the pure dict and ``optimizer.init(params)``'s
    state. Each call merges the params into a copy of the model's graph (as ``apply``), builds
    ``nnx.Optimizer(model, <the optax transformation>, wrt=nnx.Param)`` with the given state in its variables
    (matched by their paths in the optax state) and its own ``step`` counter set to the state's
    (:class:`NnxStepState`), runs the user's step, which updates both in place (``optimizer.update(model,
    grads)``), and reads the model's params, the optimizer's state and its step counter back out: a step that
    reads ``optimizer.step`` (a warmup) sees the steps taken so far, as in the user's own loop. (Before, the
    counter was 0 at each call; the optax state's ``count``, which Adam's bias correction and optax's schedules
    read, was carried.)"""
    label = _label(user_step)

    def step(params: Any, opt_state: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
        import jax  # late: a framework: the arm runs after the numerics flags
        from flax import nnx  # late: an optional extra, loaded by the model's init first

        fn = _get(user_step)
        step.__wrapped__ = fn  # type: ignore[attr-defined]  # JaxModel's checks name the user's file and line
        what = f"nnx step {label} ({_where(fn)})"
        graph, state, rest = split.split
        state = jax.tree.map(lambda a: a, state)  # a copy: the cached split keeps its own leaves
        nnx.replace_by_pure_dict(state, params)
        model = nnx.merge(graph, state, *rest)
        opt = nnx.Optimizer(model, _get(optimizer), wrt=nnx.Param)
        is_var = lambda v: isinstance(v, nnx.Variable)  # noqa: E731
        held = dict(jax.tree_util.tree_flatten_with_path(opt.opt_state, is_leaf=is_var)[0])
        given, given_def = jax.tree_util.tree_flatten_with_path(opt_state.inner)
        if set(held) != {p for p, _ in given}:
            raise ParityError(
                f"{what}: nnx.Optimizer's state has paths {sorted(map(jax.tree_util.keystr, held))}, the optax "
                f"state {sorted(jax.tree_util.keystr(p) for p, _ in given)}: give nnx_model the optax transformation "
                "the step's optimizer uses"
            )
        for path, leaf in given:
            held[path].set_value(leaf)
        opt.step.set_value(opt_state.step)
        loss = _nnx_loss(what, fn(model, opt, x, y))
        new_state = jax.tree.unflatten(given_def, [held[path].get_value() for path, _ in given])
        return nnx.to_pure_dict(nnx.state(model, nnx.Param)), NnxStepState(new_state, opt.step.get_value()), loss

    return _as(step, user_step)


def nnx_model(
    build: Ref, optimizer: Any, loss: Ref, step: Ref | None = None, *, mapping: Mapping[str, Any] | None = None
) -> JaxModel:
    """A :class:`JaxModel` of the user's ``build(seed) -> nnx.Module``. ``step``: the user's own nnx train step
    as nnx users write it, ``step(model, optimizer, x, y)``, jitted by ``nnx.jit`` or not, that updates the model
    and an ``nnx.Optimizer(model, tx, wrt=nnx.Param)`` in place (``optimizer.update(model, grads)``) and returns
    the loss, ``(loss, aux)`` or metrics holding ``"loss"``; paritybench builds the optimizer from ``optimizer``
    (the optax transformation ``tx``) and carries its state between steps (the ``jax-step`` arm)."""
    split = _Nnx(build)
    label = split.label

    def init(seed: int) -> dict[str, Any]:
        from flax import nnx  # late: an optional extra, loaded by model() first

        model = split.model(seed)
        _graph, params, *_rest = nnx.split(model, nnx.Param, ...)
        return _assignment_order(model, nnx.to_pure_dict(params))

    def apply(params: Any, x: Any) -> Any:
        import jax  # late: a framework: the arm runs after the numerics flags
        from flax import nnx  # late: an optional extra, loaded by init first

        graph, state, rest = split.split
        state = jax.tree.map(lambda a: a, state)  # a copy: the cached split keeps its own leaves
        nnx.replace_by_pure_dict(state, params)
        return nnx.merge(graph, state, *rest)(x)

    own_step = None if step is None else _nnx_step(split, step, optimizer)
    return JaxModel(
        _as(apply, f"{label}.apply"),
        _as(init, f"{label}.init"),
        optimizer,
        loss,
        own_step,
        mapping=mapping,
        wrap_optimizer=None if step is None else _counted,
    )
