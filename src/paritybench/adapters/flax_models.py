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

flax names a Dense kernel ``(in, out)`` and a Conv kernel ``(*k, in, out)``: the layout Keras shares, so the
declared weights map onto both with ``identity`` rows (``jax_params``' docstring).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from paritybench.errors import ParityError
from paritybench.workloads.base import Ref, resolve_ref

from .arms import JaxModel, _as, _label, user_call


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
    module: Ref, example_shape: tuple[int, ...], optimizer: Any, loss: Ref, *, mapping: Mapping[str, Any] | None = None
) -> JaxModel:
    """A :class:`JaxModel` of the user's linen ``module`` (an instance, or ``"module:attribute"``)."""
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


def nnx_model(build: Ref, optimizer: Any, loss: Ref, *, mapping: Mapping[str, Any] | None = None) -> JaxModel:
    """A :class:`JaxModel` of the user's ``build(seed) -> nnx.Module``."""
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

    return JaxModel(_as(apply, f"{label}.apply"), _as(init, f"{label}.init"), optimizer, loss, mapping=mapping)
