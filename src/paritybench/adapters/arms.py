"""Arms from the user's own model code, handed over unchanged (issue 18 item 3).

The workload still declares its parameters once (``Model.params``, names ``layer/role`` in the (in, out)
layout Keras and JAX share): they are the names weights travel under between arms and in the artifact. An
adapter maps that declaration onto the user's own model with :func:`mapping.plan` (layers by order, weights by
role, shapes checked) the first time the arm runs, inside the process that runs it, and then reduces to the
existing arm machinery:

- :func:`jax_arm`: the user's pure ``apply(params, x)`` over any dict pytree, an optax
  ``GradientTransformation`` and a ``loss(outputs, y)``. The arm's ``jax_apply`` rebuilds the user's tree from
  the declared names and calls ``apply``; its ``optimizer`` runs the user's transformation on that tree and
  hands the updates back under the declared names. Both are pure renamings (between two channels-last
  layouts every mapped transform is ``identity``), so ``arms.jax_trainer`` trains exactly what a built-in
  declaration of the same functions trains; an equinox layer's weight (torch's layout, ``adapters.partitioned``)
  is a rule that only moves elements, run as a gather both ways (``calls.Relayout``). With ``JaxModel(step=...)``
  the user's own (jitted) train step takes each step of a ``jax-step`` arm (``Arm.jax_step``): the weights it
  returns are the arm's.
- :func:`keras_build`: the user's function returning a ``keras.Model``; its variables are matched to the
  declared names, and a compiled model keeps its compiled optimizer and loss (``arms.keras_worker``).

A user function that raises is reported at the user's own file and line (:func:`user_call`). The modules are
named ``"module:attribute"`` (a module beside the workload file imports), so nothing here imports a framework
while the workload loads.
"""

from __future__ import annotations

import copy
import functools
import inspect
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paritybench.errors import ParityError
from paritybench.workloads.base import Arm, Data, Model, Ref, Training, Workload, resolve_ref
from paritybench.workloads.kit.mlp import dense_params

from . import jax_params, keras_params, layouts, torch_params
from .calls import Relayout, _as, _label, declared_table, relayouts, renaming, user_call
from .keras_jax import KerasJax
from .mapping import Param, WeightMap, plan

Shapes = Mapping[str, tuple[int, ...]]
__all__ = [
    "Data",
    "Training",
    "JaxModel",
    "TorchModel",
    "torch_arm",
    "compiled_loss",
    "dense_params",
    "jax_arm",
    "keras_f64_arm",
    "keras_build",
    "own_workload",
    "user_call",
]


def _leaf_paths(tree: Mapping[str, Any], prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out: list[tuple[tuple[str, ...], Any]] = []
    for k, v in tree.items():
        if isinstance(v, Mapping):
            out += _leaf_paths(v, (*prefix, str(k)))
        else:
            out.append(((*prefix, str(k)), v))
    return out


class JaxModel:
    """The user's JAX model: ``apply(params, x)``, ``init(seed)`` (a dict pytree; its structure is what the
    declared weights map onto), an optax ``GradientTransformation`` and ``loss(outputs, y)`` (a mean over the
    batch, or per sample: the arm trains on its mean). ``mapping``: :func:`mapping.plan`'s keyword arguments
    (``overrides={your weight: declared name}``, ``transforms``, ``ignore``), for a mapping the order and shapes
    do not settle; the torch adapter and :func:`keras_build` take the same. ``layers``: the user's named
    intermediates ``(params, x) -> {name: array}`` in forward order, over the user's own tree, for ``localize``'s
    forward phase (name them as the torch module and the Keras layer name theirs to compare them with a torch or
    Keras arm's; a layer's output is its weighted part's output, before a fused activation: ``x @ w + b``, not its
    tanh, as a torch hook on ``nn.Linear`` and ``keras_inspect.WeightedLayers`` give it). References
    are ``"module:attribute"`` or the objects.

    ``step``: the user's own train step, jitted or not, as a training loop calls it:
    ``step(params, opt_state, x, y)`` over the user's own tree and the state ``optimizer.init(params)`` makes,
    returning ``(params, opt_state, loss)``, ``(params, opt_state, loss, aux)`` (``aux`` anything, not read) or
    ``(params, opt_state, metrics)`` with ``metrics`` a dict holding ``"loss"``; ``params`` and ``opt_state`` as it
    was given them (the same tree, shapes and dtypes), ``loss`` a scalar: the mean loss of the batch at the weights
    it was given. An arm with it (:func:`own_workload`'s ``jax-step``) trains by that step: its weights after each
    step are the ones the step returns; its curves and gradients are paritybench's, from ``apply`` and ``loss``
    at each step's weights, and the loss the step returns is held to paritybench's at the same weights (the run's
    ``info["user_step"]``). Anything else it returns is a one-line error naming its file and line, found before
    training by tracing it on one batch (``jax.eval_shape``)."""

    def __init__(
        self,
        apply: Ref,
        init: Ref,
        optimizer: Any,
        loss: Ref,
        step: Ref | None = None,
        *,
        mapping: Mapping[str, Any] | None = None,
        layers: Ref | None = None,
        table: Callable[[], list[Param]] | None = None,
        wrap_optimizer: Callable[[Any], Any] | None = None,
    ) -> None:
        self.apply_ref, self.init_ref, self.optimizer_ref, self.loss_ref = apply, init, optimizer, loss
        self.step_ref = step
        self.layers_ref = layers
        self.mapping = dict(mapping or {})
        self.table = table
        self.wrap_optimizer = wrap_optimizer  # the user's transformation -> the arm's (nnx_model's step counter)
        self._names: dict[tuple, dict[tuple[str, ...], Relayout]] = {}

    def _get(self, ref: Any) -> Any:
        if isinstance(ref, str):
            try:
                return resolve_ref(ref)
            except Exception as exc:
                raise ParityError(f"{ref}: cannot be imported: {type(exc).__name__}: {exc}") from exc
        return ref

    @functools.cached_property
    def structure(self) -> Mapping[str, Any]:
        """The user's params tree at ``init(0)``, in the user's own key order, as shapes and dtypes.

        ``init`` is called, not traced by ``jax.eval_shape``: JAX flattens a dict in sorted key order, and the
        layers are paired in the user's order."""
        import jax  # late: a framework: the arm runs after the numerics flags

        tree = user_call(f"init {_label(self.init_ref)}", self._get(self.init_ref), 0)
        if not isinstance(tree, Mapping):
            raise ParityError(
                f"init {_label(self.init_ref)} returns a {type(tree).__name__}: an adapter takes a dict pytree of "
                "arrays (flax's variables included)"
            )

        def shapes(t: Mapping[str, Any]) -> dict[str, Any]:
            return {
                k: shapes(v) if isinstance(v, Mapping) else jax.ShapeDtypeStruct(np.shape(v), v.dtype)
                for k, v in t.items()
            }

        return shapes(tree)

    def weight_map(self, declared: Mapping[str, tuple[int, ...]]) -> WeightMap:
        """The declared weights -> the user's tree: read as flax lays it out (channels-last), or by ``table`` (the
        partitioned adapter's: equinox's layers in torch's layout)."""
        target = self.table() if self.table is not None else jax_params.read_pytree(self.structure)
        return plan(declared_table(declared), target, **self.mapping)

    def names(self, declared: Mapping[str, tuple[int, ...]]) -> dict[tuple[str, ...], Relayout]:
        """The user's leaf path -> the declared weight it is and the rule between them: a renaming, or (an
        equinox layer's weight) a rule that only moves elements, run both ways as a gather."""
        key = tuple(declared.items())
        if key not in self._names:
            m = self.weight_map(declared)
            by_target = relayouts(m, f"JAX model {_label(self.apply_ref)}")
            print(
                f"weight mapping: the declared weights -> your JAX model {_label(self.apply_ref)}\n{m.text()}",
                file=sys.stderr,
            )
            self._names[key] = {path: by_target["/".join(path)] for path, _ in _leaf_paths(self.structure)}
        return self._names[key]

    def to_tree(self, declared: Shapes, flat: Mapping[str, Any]) -> dict[str, Any]:
        names = self.names(declared)

        def leaf(path: tuple[str, ...]) -> Any:
            r = names[path]
            return Relayout.take(flat[r.source], r.forward)

        def rebuild(tree: Mapping[str, Any], prefix: tuple[str, ...]) -> dict[str, Any]:
            return {
                k: rebuild(v, (*prefix, str(k))) if isinstance(v, Mapping) else leaf((*prefix, str(k)))
                for k, v in tree.items()
            }

        return rebuild(self.structure, ())

    def to_flat(self, declared: Shapes, tree: Mapping[str, Any]) -> dict[str, Any]:
        names = self.names(declared)
        return {names[path].source: Relayout.take(leaf, names[path].back) for path, leaf in _leaf_paths(tree)}

    def _state(self, declared: Shapes, state: Any, flat: bool) -> Any:
        """The optimizer state with every subtree shaped like the parameters (Adam's ``mu``/``nu``, a momentum
        trace) under the declared names (``flat``) or back in the user's tree: the state the arm keeps and
        ``localize`` reads names its moments as every other arm does (``adam/mu/dense_0/kernel``)."""
        names = self.names(declared)
        if flat:
            paths = set(names)
            return map_state(
                state, lambda s: {p for p, _ in _leaf_paths(s)} == paths, lambda s: self.to_flat(declared, s)
            )
        flat_keys = {r.source for r in names.values()}
        return map_state(state, lambda s: set(s) == flat_keys, lambda s: self.to_tree(declared, s))

    # ------------------------------------------------------------------ the arm's references (functions)

    def jax_apply(self, declared: Shapes) -> Callable[[Any, Any], Any]:
        def apply(params: Any, x: Any) -> Any:
            return user_call(
                f"apply {_label(self.apply_ref)}", self._get(self.apply_ref), self.to_tree(declared, params), x
            )

        return _as(apply, self.apply_ref)

    def jax_layers(self, declared: Shapes) -> Callable[[Any, Any], Any] | None:
        """The user's named intermediates over the declared names (None without ``layers``)."""
        ref = self.layers_ref
        if ref is None:
            return None

        def layers(params: Any, x: Any) -> Any:
            return user_call(f"layers {_label(ref)}", self._get(ref), self.to_tree(declared, params), x)

        return _as(layers, ref)

    def jax_step(self, declared: Shapes) -> Callable[..., Any] | None:
        """The user's ``step`` over the declared names (``Arm.jax_step``): ``(params, opt_state, x, y) ->
        (params, opt_state, loss)``, the weights and the optimizer state renamed both ways (None without
        ``step``)."""
        ref = self.step_ref
        if ref is None:
            return None
        what = f"step {_label(ref)}"

        def step(params: Any, opt_state: Any, x: Any, y: Any) -> tuple[Any, Any, Any]:
            tree, state = self.to_tree(declared, params), self._state(declared, opt_state, flat=False)
            fn = self._get(ref)
            out = user_call(what, fn, tree, state, x, y)
            new, new_state, loss = _step_outputs(f"{what} ({_where(fn)})", out, tree, state)
            return self.to_flat(declared, new), self._state(declared, new_state, flat=True), loss

        return _as(step, ref)

    def loss_fn(self) -> Callable[[Any, Any], Any]:
        def loss(z: Any, y: Any) -> Any:
            return user_call(f"loss {_label(self.loss_ref)}", self._get(self.loss_ref), z, y)

        return _as(loss, self.loss_ref)

    def optimizer(self, declared: Shapes) -> Callable[[float], Any]:
        """``lr -> GradientTransformation`` over the declared names, running the user's own transformation (the
        user's learning rate: ``Training.lr`` does not reach it)."""

        def make(lr: float) -> Any:
            import optax  # late: a framework: the arm runs after the numerics flags

            user = self._get(self.optimizer_ref)
            if not isinstance(user, optax.GradientTransformation):
                raise ParityError(
                    f"optimizer {_label(self.optimizer_ref)} is a {type(user).__name__}, not an optax "
                    "GradientTransformation (e.g. optax.adam(1e-3))"
                )
            if self.wrap_optimizer is not None:
                user = self.wrap_optimizer(user)

            def init(params: Any) -> Any:
                return self._state(declared, user.init(self.to_tree(declared, params)), flat=True)

            def update(grads: Any, state: Any, params: Any = None) -> tuple[Any, Any]:
                tree = None if params is None else self.to_tree(declared, params)
                state = self._state(declared, state, flat=False)
                u, state = user.update(self.to_tree(declared, grads), state, tree)
                return self.to_flat(declared, u), self._state(declared, state, flat=True)

            return optax.GradientTransformation(init, update)

        return _as(make, self.optimizer_ref)

    def init(self, declared: Shapes) -> Callable[..., dict[str, np.ndarray]]:
        """``(seed, threefry_partitionable) -> declared weights`` from the user's own ``init(seed)``."""

        def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
            tree = user_call(f"init {_label(self.init_ref)}", self._get(self.init_ref), seed)
            return {k: np.asarray(v, np.float32) for k, v in self.to_flat(declared, tree).items()}

        return _as(init, self.init_ref)


def _where(fn: Any) -> str:
    """``file:line`` where the user's function is defined (through ``jax.jit``'s ``__wrapped__``)."""
    inner = inspect.unwrap(fn) if callable(fn) else fn
    code = getattr(inner, "__code__", None)
    if code is None:
        return _label(fn)
    line = code.co_firstlineno  # its first decorator's line (``@jax.jit``): the ``def`` line where the source reads
    try:
        lines, start = inspect.getsourcelines(inner)
        line = start + next(i for i, t in enumerate(lines) if t.lstrip().startswith(("def ", "async def ")))
    except (OSError, TypeError, StopIteration):
        pass
    return f"{code.co_filename}:{line}"


STEP_RETURNS = (
    "return (params, opt_state, loss), (params, opt_state, loss, aux) or (params, opt_state, {'loss': loss, ...}), "
    "params and opt_state as given"
)


def _step_outputs(what: str, out: Any, params: Any, state: Any) -> tuple[Any, Any, Any]:
    """The user's step's ``(params, opt_state, loss)`` from what it returned (traced or computed), checked against
    the ``params`` and optimizer ``state`` it was given: the same tree, shapes and dtypes, and a scalar loss; else a
    one-line error naming the step's file and line."""
    import jax  # late: a framework: the arm runs after the numerics flags

    def refuse(problem: str) -> ParityError:
        return ParityError(f"{what} {problem}: {STEP_RETURNS}")

    if not isinstance(out, (tuple, list)) or len(out) not in (3, 4):
        n = f"a {len(out)}-tuple" if isinstance(out, (tuple, list)) else f"a {type(out).__name__}"
        raise refuse(f"returns {n}")
    new, new_state, loss = out[0], out[1], out[2]
    for name, got, given in (("params", new, params), ("opt_state", new_state, state)):
        got_def: Any = jax.tree.structure(got)  # PyTreeDef: compared by ==, which its stub does not declare
        given_def: Any = jax.tree.structure(given)
        if got_def != given_def:
            raise refuse(f"returns {name} of another structure than it was given ({got_def} for {given_def})")
        for path, (a, b) in zip(
            (jax.tree_util.keystr(p) for p, _ in jax.tree_util.tree_flatten_with_path(given)[0]),
            zip(jax.tree.leaves(got), jax.tree.leaves(given), strict=True),
            strict=True,
        ):
            if (np.shape(a), getattr(a, "dtype", None)) != (np.shape(b), getattr(b, "dtype", None)):
                raise refuse(
                    f"returns {name}{path} of shape {np.shape(a)} {getattr(a, 'dtype', '')} for "
                    f"{np.shape(b)} {getattr(b, 'dtype', '')}"
                )
    if isinstance(loss, Mapping):
        if "loss" not in loss:
            raise refuse(f"returns metrics without 'loss' ({', '.join(map(str, loss)) or 'empty'})")
        loss = loss["loss"]
    if np.shape(loss) != ():
        raise refuse(f"returns a loss of shape {np.shape(loss)}, not a scalar")
    return new, new_state, loss


def jax_arm(
    name: str,
    model: JaxModel,
    declared: Mapping[str, tuple[int, ...]],
    *,
    description: str = "",
    kind: str = "jax",
    own_init: bool = False,
    role: str = "port",
    own_step: bool = False,
) -> Arm:
    """A JAX (``kind="jax"``) or float64 (``kind="f64"``) arm that trains the user's own model; ``own_init``
    starts it from the user's ``init(seed)`` instead of the workload's shared initial weights; ``own_step`` (a
    ``kind="jax"`` arm of a model with ``step``) takes each step by the user's own step."""
    step = model.jax_step(declared) if own_step else None
    if own_step and step is None:
        raise ParityError(f"jax_arm {name}: own_step needs a JaxModel with step=... (the user's train step)")
    by = f"your step {_label(model.step_ref)}" if step is not None else _label(model.optimizer_ref)
    return Arm(
        name,
        description or f"your JAX model {_label(model.apply_ref)}, {by}, loss {_label(model.loss_ref)}",
        kind,
        f"own:{_label(model.loss_ref)}" if kind == "jax" else f"own:{_label(model.loss_ref)}:f64",
        loss_fn=model.loss_fn(),
        optimizer=model.optimizer(declared),
        jax_apply=model.jax_apply(declared),
        jax_layers=model.jax_layers(declared),
        init=model.init(declared) if own_init else None,
        requires=("jax", "optax"),
        role=role,
        conventions={
            "adapter": "jax",
            "optimizer": "the user's optax transformation (its own learning rate)",
            **({"step": f"the user's train step {_label(model.step_ref)}"} if step is not None else {}),
        },
        jax_step=step,
    )


# A transform between the declared (channels-last) layout and torch's, as a differentiable torch op: the torch
# adapter's forward pass computes its module's weights from the declared leaf tensors, so autograd carries the
# gradient back through it (the inverse layout) and the optimizer steps the declared tensors themselves. Every
# layout rule that moves elements (``layouts.Transform.gather``: the LSTM/GRU gate blocks, the Dense after a
# Flatten, ...) is one index operation whose indices the NumPy rule itself computes (``layouts.gather_index``),
# so each rule stays written once; identity, transpose and the conv kernel's axes keep their view ops (the bits
# an adapter arm trained before). ``zeros`` (torch's LSTM ``bias_hh``, which Keras does not have) is a constant:
# the module's effective bias is the declared one, trained as Keras trains it.
def _torch_rule(row: Any) -> Callable[[list[Any]], Any]:
    """``row``'s transform as ``[declared tensors] -> the module's tensor`` (a one-line error if no torch op)."""
    spec = row.transform
    if spec == "identity":
        return lambda s: s[0]
    if spec == "transpose":
        return lambda s: s[0].T
    if spec in ("hwio_to_oihw", "wio_to_oiw"):
        return lambda s: s[0].permute(s[0].ndim - 1, s[0].ndim - 2, *range(s[0].ndim - 2))
    transform, _args = layouts.parse(spec)
    if transform.name == "zeros":
        return lambda s: None  # made where the dtype and device are known (_torch_value)
    if transform.name == "sum":
        return lambda s: s[0] + s[1]
    if not transform.gather:
        raise ParityError(
            f"weight mapping: the torch adapter cannot compute {row.target.label()} by {spec!r} in its forward pass; "
            "map that weight by a layout rule (overrides/transforms) or declare the model without it"
        )
    index = layouts.gather_index(spec, [p.shape for p in row.sources], row.target.shape)
    cache: dict[Any, Any] = {}

    def gather(s: list[Any]) -> Any:
        import torch  # late: a framework: the arm runs after the numerics flags

        dev = s[0].device
        if dev not in cache:
            cache[dev] = torch.as_tensor(index.reshape(-1), device=dev)
        flat = torch.cat([t.reshape(-1) for t in s]) if len(s) > 1 else s[0].reshape(-1)
        return flat[cache[dev]].reshape(row.target.shape)

    return gather


class TorchModel:
    """The user's torch model: ``build() -> nn.Module``, an optimizer factory ``(params, lr) -> Optimizer``
    (``params`` a list of tensors, as ``model.parameters()`` gives) and a loss (an ``nn.Module`` such as
    ``nn.MSELoss()`` or a function ``(outputs, targets) -> mean loss``); ``hook``: ``(parameters) -> None`` between
    ``backward()`` and ``step()`` (gradient clipping), on the declared tensors (a norm or a value clip is the same
    in either layout).
    ``example_shape``: one sample's shape, to read the module's layers in forward order (else the first batch's
    first sample does, when the arm first runs). Every layout rule crosses to torch in the forward pass: Linear,
    Conv, norms, Embedding, LSTM and GRU (gates and split biases), the Linear after an ``nn.Flatten``."""

    def __init__(
        self,
        build: Ref,
        optimizer: Ref,
        loss: Any,
        *,
        hook: Ref | None = None,
        example_shape: tuple[int, ...] | None = None,
        mapping: Mapping[str, Any] | None = None,
    ) -> None:
        self.mapping = dict(mapping or {})
        self.build_ref, self.optimizer_ref, self.loss_ref, self.hook_ref = build, optimizer, loss, hook
        self.example_shape = example_shape
        self._maps: dict[tuple, WeightMap] = {}
        self._rules: dict[tuple, dict[str, Callable[[list[Any]], Any]]] = {}
        self._copies: dict[Any, Any] = {}  # dtype -> the module converted to it (the float64 arbiter's)

    @functools.cached_property
    def module(self) -> Any:
        import torch  # late: a framework: the arm runs after the numerics flags

        m = user_call(f"torch model {_label(self.build_ref)}", resolve_ref(self.build_ref))
        if not isinstance(m, torch.nn.Module):
            raise ParityError(f"{_label(self.build_ref)} returns a {type(m).__name__}: return a torch.nn.Module")
        return m

    def module_for(self, x: Any) -> Any:
        """The module that runs on ``x``: the user's own on ``x``'s device, or for float64 data (the arbiter) a
        copy converted by ``module.to(torch.float64)`` (its floating parameters and buffers: the moving statistics
        a functional call does not replace), so a float32 arm in the same process keeps the float32 module."""
        import torch  # late: a framework: the arm runs after the numerics flags

        if x.dtype != torch.float64:
            return self.module.to(x.device)
        if torch.float64 not in self._copies:
            self._copies[torch.float64] = copy.deepcopy(self.module).to(dtype=torch.float64)
        return self._copies[torch.float64].to(x.device)

    def init(self, declared: Shapes) -> Callable[..., dict[str, np.ndarray]]:
        """``(seed, threefry_partitionable) -> declared weights``: the module's own initial weights, built with
        torch's global generator seeded by ``torch.manual_seed(seed)`` (inside ``torch.random.fork_rng``, so the
        caller's generator is left as it was), mapped onto the declared names by :func:`mapping.plan` from the
        module to the declaration (the reverse of the arm's map; ``mapping``'s ``overrides`` reversed), its layers
        read in forward order from ``example_shape``'s zeros, else in registration order. Checked both ways: the
        arm's map applied to these weights gives the module's weights back, bit for bit."""

        def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
            import torch  # late: a framework: the arm runs after the numerics flags

            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                m = user_call(f"torch model {_label(self.build_ref)}", resolve_ref(self.build_ref))
            example = None if self.example_shape is None else torch.zeros((1, *self.example_shape))
            overrides = {v: k for k, v in dict(self.mapping.get("overrides") or {}).items() if isinstance(v, str)}
            back = plan(
                torch_params.read_torch(m, example=example),
                declared_table(declared),
                overrides=overrides,
                ignore=self.mapping.get("ignore", ()),
            )
            own = torch_params.torch_arrays(m)
            weights = back.apply(own)
            forth = plan(declared_table(declared), torch_params.read_torch(m, example=example), **self.mapping)
            for name, value in forth.apply(weights).items():
                if not np.array_equal(value, own[name]):
                    raise ParityError(
                        f"initial weights from your torch model {_label(self.build_ref)}: {name} does not come back "
                        "from the declared weights through the arm's weight map; give the workload a JAX model for "
                        "the initial weights, or map the module one-to-one"
                    )
            return {k: np.asarray(v, np.float32) for k, v in weights.items()}

        return _as(init, self.build_ref)

    def weight_map(self, declared: Shapes, example: Any = None) -> WeightMap:
        """The declared weights -> this module's, its layers read in forward order from ``example_shape``'s
        zeros or else from ``example`` (the first batch's first sample, when the arm first runs): the forward
        pass is what shows an ``nn.Flatten``'s feature map (the next Linear's rows are permuted) and the order
        of modules registered out of it; with neither, registration order. Printed once as a table."""
        key = tuple(declared.items())
        if key not in self._maps:
            import torch  # late: a framework: the arm runs after the numerics flags

            if self.example_shape is not None:
                example = torch.zeros((1, *self.example_shape))
            m = plan(declared_table(declared), torch_params.read_torch(self.module, example=example), **self.mapping)
            self._rules[key] = {r.target.name: _torch_rule(r) for r in m.rows if r.transform != "keep"}
            print(
                f"weight mapping: the declared weights -> your torch model {_label(self.build_ref)}\n{m.text()}",
                file=sys.stderr,
            )
            self._maps[key] = m
        return self._maps[key]

    def mapped(self) -> list[WeightMap]:
        """The weight maps this process has planned (for the artifact)."""
        return list(self._maps.values())

    def torch_apply(self, declared: Shapes) -> Callable[[Any, Any], Any]:
        key = tuple(declared.items())

        def apply(params: Any, x: Any) -> Any:
            import torch  # late: a framework: the arm runs after the numerics flags
            from torch.func import functional_call  # late: as above

            module = self.module_for(x)
            ex = x[:1].detach()  # the forward-order read runs the user's (float32) module
            m = self.weight_map(declared, example=ex.float() if ex.is_floating_point() else ex)
            rules = self._rules[key]
            like = next(iter(params.values()))
            mapped = {}
            for r in m.rows:
                if r.transform == "keep":
                    continue
                value = rules[r.target.name]([params[s.name] for s in r.sources])
                mapped[r.target.name] = (
                    torch.zeros(r.target.shape, dtype=like.dtype, device=like.device) if value is None else value
                )
            return user_call(f"torch model {_label(self.build_ref)}", functional_call, module, mapped, (x,))

        return _as(apply, self.build_ref)

    def torch_layers(self, declared: Shapes) -> Callable[[Any, Any], dict[str, Any]]:
        """``(params, x) -> {layer: output}`` for ``localize``'s forward phase: the output of each of the module's
        layers with weights, named by the user's own module names (a nested one ``block/fc``), in the order the
        forward pass calls them (forward hooks around :meth:`torch_apply`); a layer that returns a tuple
        (``nn.LSTM``'s ``(output, (h, c))``) shows its first element."""
        forward = self.torch_apply(declared)

        def layers(params: Any, x: Any) -> dict[str, Any]:
            out: dict[str, Any] = {}

            def hook(name: str) -> Callable[..., None]:
                def record(_mod: Any, _inputs: Any, output: Any) -> None:
                    out.setdefault(name, output[0] if isinstance(output, tuple) else output)

                return record

            module = self.module_for(x)  # the module the forward pass below calls
            names = [
                n
                for n, m in module.named_modules()
                if list(m.named_parameters(recurse=False)) or list(m.named_buffers(recurse=False))
            ]
            modules = dict(module.named_modules())
            # a nested module's path as "/"-joined, as a nested Keras model's layers and flax's paths are named
            handles = [modules[n].register_forward_hook(hook(n.replace(".", "/") or "(root)")) for n in names]
            try:
                forward(params, x)
            finally:
                for h in handles:
                    h.remove()
            return out

        return _as(layers, self.build_ref)

    def torch_loss(self) -> Callable[[Any, Any], Any]:
        def loss(z: Any, y: Any) -> Any:
            fn = resolve_ref(self.loss_ref) if isinstance(self.loss_ref, str) else self.loss_ref
            return user_call(f"loss {_label(self.loss_ref)}", fn, z, y)

        return _as(loss, self.loss_ref)

    def torch_hook(self) -> Callable[[Any], Any] | None:
        ref = self.hook_ref
        if ref is None:
            return None

        def hook(params: Any) -> Any:  # Arm.torch_grad_hook's {name: tensor}; the user's hook takes the list
            return user_call(f"hook {_label(ref)}", resolve_ref(ref), list(params.values()))

        return _as(hook, ref)

    def torch_optimizer(self) -> Callable[[Any, float], Any]:
        def make(params: Any, lr: float) -> Any:
            return user_call(
                f"optimizer {_label(self.optimizer_ref)}", resolve_ref(self.optimizer_ref), list(params.values()), lr
            )

        return _as(make, self.optimizer_ref)


def torch_arm(
    name: str,
    model: TorchModel,
    declared: Shapes,
    *,
    description: str = "",
    role: str = "port",
    kind: str = "torch",
) -> Arm:
    """A torch arm (``kind="torch"``) or the float64 arbiter in torch (``kind="torch-f64"``: the same module, its
    parameters, data and optimizer state in float64, ``arms.torch_f64``) that trains the user's own ``nn.Module``
    from the declared weights (``arms.torch_trainer``)."""
    return Arm(
        name,
        description
        or f"your torch model {_label(model.build_ref)}, {_label(model.optimizer_ref)}, loss {_label(model.loss_ref)}",
        kind,
        f"torch:own:{_label(model.loss_ref)}" + ("" if kind == "torch" else ":f64"),
        torch_loss=model.torch_loss(),
        torch_optimizer=model.torch_optimizer(),
        torch_apply=model.torch_apply(declared),
        torch_layers=model.torch_layers(declared),
        torch_grad_hook=model.torch_hook(),
        requires=("torch",),
        role=role,
        conventions={"adapter": "torch"},
    )


# The weight map of each Keras model an adapter built in this process, by the model's id (the Keras worker
# records it in the artifact: ``environment.frameworks.keras-<backend>.weight_maps``).
KERAS_MAPS: dict[int, WeightMap] = {}


def keras_weight_map(model: Any) -> WeightMap | None:
    """The weight map :func:`keras_build` matched ``model`` with (None for a model no adapter built)."""
    return KERAS_MAPS.get(id(model))


def keras_build(
    factory: Ref, declared: Shapes, mapping: Mapping[str, Any] | None = None
) -> Callable[..., tuple[Any, dict[str, Any]]]:
    """``keras_build(keras) -> (model, {declared name: variable})`` from the user's ``factory()`` returning a
    ``keras.Model`` (compiled or not), its weights matched to the declaration by :func:`mapping.plan`."""

    def build(keras: Any, **options: Any) -> tuple[Any, dict[str, Any]]:
        fn = resolve_ref(factory)
        model = user_call(f"Keras model {_label(factory)}", fn, **options)
        if not isinstance(model, keras.Model):
            raise ParityError(f"{_label(factory)} returns a {type(model).__name__}: return a keras.Model")
        m = plan(declared_table(declared), keras_params.read_keras(model), **dict(mapping or {}))
        by_target = renaming(m, f"Keras model {_label(factory)}")
        KERAS_MAPS[id(model)] = m
        variables = {v.path: v for layer in keras_params._layers(model) for v in layer.weights}
        return model, {decl: variables[path] for path, decl in by_target.items()}

    return _as(build, factory)


def compiled_loss(factory: Ref) -> Callable[[Any], Any]:
    """``keras -> loss``: the loss the user's factory compiled its model with (a one-line error if none)."""

    def loss(keras: Any) -> Any:
        model = user_call(f"Keras model {_label(factory)}", resolve_ref(factory))
        if not getattr(model, "compiled", False) or model.loss is None:
            raise ParityError(
                f"the Keras model from {_label(factory)} is not compiled with a loss: compile it (loss=...)"
            )
        return keras.losses.get(model.loss) if isinstance(model.loss, str) else model.loss

    return loss


@dataclass(frozen=True)
class OwnWorkload(Workload):
    """A workload of adapter arms: the artifact's ``workload.weight_maps`` records how the declared weights map
    onto the user's JAX model (``jax``), each torch arm's module (by arm name) and the Keras float64 arbiter's model
    (``reference-f64``, where it is the arbiter), as ``WeightMap.to_json``;
    ``workload.arbiter`` which model is the float64 arbiter (``own_workload``'s ``reference``)."""

    jax_model: JaxModel | None = field(default=None, compare=False)
    torch_models: Mapping[str, TorchModel] = field(default_factory=dict, compare=False)
    arbiter: Mapping[str, str] = field(default_factory=dict, compare=False)
    keras_arbiter: KerasJax | None = field(default=None, compare=False)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self.arbiter:
            out["arbiter"] = dict(self.arbiter)
        maps: dict[str, Any] = {}
        if self.jax_model is not None and "jax" in sys.modules:  # the JAX arms ran in this process
            maps["jax"] = self.jax_model.weight_map(self.model.params).to_json()
        for arm, model in self.torch_models.items():
            if model.mapped():  # the torch arm ran in this process
                maps[arm] = model.mapped()[0].to_json()
        if self.keras_arbiter is not None and "float64" in self.keras_arbiter.weight_maps:  # it ran in this process
            maps["reference-f64"] = self.keras_arbiter.weight_maps["float64"].to_json()
        if maps:
            out["weight_maps"] = maps
        return out


def map_state(
    state: Any, match: Callable[[Mapping[str, Any]], bool], convert: Callable[[Mapping[str, Any]], Any]
) -> Any:
    """An optax optimizer state with every mapping that ``match``es (a params-shaped subtree: Adam's ``mu``/``nu``,
    a momentum trace) replaced by ``convert(mapping)``; the NamedTuples, tuples, lists and other mappings around
    them rebuilt as they were."""

    def walk(s: Any) -> Any:
        if isinstance(s, Mapping):
            return convert(s) if match(s) else {k: walk(v) for k, v in s.items()}
        if isinstance(s, tuple) and hasattr(s, "_fields"):  # optax's states are NamedTuples
            return type(s)(*(walk(c) for c in s))
        if isinstance(s, (tuple, list)):
            return type(s)(walk(c) for c in s)
        return s

    return walk(state)


# own_workload's reference: which of the user's models runs as the float64 arbiter
REFERENCES = ("auto", "jax", "torch", "keras")


def _no_jax_model(name: str) -> Callable[..., Any]:
    def no_jax_model(*_args: Any, **_kw: Any) -> Any:
        raise ParityError(
            f"workload {name} has no JAX model (own_workload without jax=): no arm runs a JAX forward pass"
        )

    return no_jax_model


def _arbiter_of(reference: Any, jax: Any, torch_models: Mapping[str, Any], keras: Any) -> str:
    """The framework whose model is the arbiter: ``reference`` checked against the models given, "auto" picked."""
    if not isinstance(reference, str) or reference not in REFERENCES:
        raise ParityError(
            f"own_workload: reference is {reference!r}: give one of {', '.join(map(repr, REFERENCES))} (the model "
            "run in float64 as the arbiter; 'auto': jax if given, else torch, else keras)"
        )
    given = {"jax": jax is not None, "torch": bool(torch_models), "keras": keras is not None}
    if reference == "auto":
        found = [fw for fw in ("jax", "torch", "keras") if given[fw]]
        if not found:
            raise ParityError(
                "own_workload: no model given: give jax=JaxModel(...), torch=TorchModel(...) or keras=..."
            )
        reference = found[0]
    elif not given[reference]:
        what = {"jax": "jax=JaxModel(...)", "torch": "torch=TorchModel(...)", "keras": "keras='module:factory'"}
        raise ParityError(
            f"own_workload: reference={reference!r} runs your {reference} model in float64, but the workload has no "
            f"{reference} model: give {what[reference]} or reference='auto'"
        )
    return reference


def keras_f64_arm(factory: Ref, on_jax: KerasJax) -> Arm:
    """The float64 arbiter in Keras (``kind="keras-f64"``, ``arms.keras_f64``): the user's factory on Keras-JAX in
    this process at ``floatx`` float64 with JAX's x64, its compiled loss and optimizer (``adapters.keras_jax``)."""
    return Arm(
        "reference-f64",
        f"your Keras model {_label(factory)} on Keras-JAX in float64 (floatx float64, JAX x64; its compiled loss and "
        "optimizer): the arbiter",
        "keras-f64",
        f"keras:own:{_label(factory)}:f64",
        loss_fn=_as(on_jax.loss_fn(), factory),
        optimizer=_as(on_jax.optimizer(), factory),
        jax_apply=_as(on_jax.jax_apply(), factory),
        jax_layers=_as(on_jax.jax_layers(), factory),
        requires=("jax", "optax", "keras"),
        role="reference",
        conventions={"adapter": "keras"},  # its optimizer and loss rows are read from the Keras model (arms.keras_f64)
    )


def own_workload(
    name: str,
    question: str,
    *,
    params: Mapping[str, tuple[int, ...]],
    head: str,
    data: Data,
    training: Training,
    jax: JaxModel | None = None,
    keras: Ref | None = None,
    keras_mapping: Mapping[str, Any] | None = None,
    torch: TorchModel | Mapping[str, TorchModel] | None = None,
    backend: str = "tensorflow",
    keras_step: str = "fit",
    reference: str = "auto",
) -> OwnWorkload:
    """A workload pairing the user's JAX model (``jax``), a Keras model factory (``keras``) as compiled and a
    torch model (``torch``; a mapping ``{arm name: TorchModel}`` gives several torch arms, e.g. a faithful port
    and a literal one with its own ``mapping``); any of them may be left out.

    Arms: ``jax`` (float32), ``jax-step`` (float32, by the user's own train step, where ``jax`` has a ``step``),
    ``keras-<backend>`` (its compiled optimizer and loss; each step by ``model.fit`` or,
    ``keras_step="train_on_batch"``, as a loop of ``model.train_on_batch`` takes it), the torch arms (``torch``
    for a single model) and ``reference-f64``: the float64 arbiter, one of the user's models run in float64 as
    ``reference`` names it: ``"jax"`` (the JAX model with x64, ``arms.f64``), ``"torch"`` (the first torch model,
    its module, data and optimizer in float64, ``arms.torch_f64``), ``"keras"`` (the Keras factory on Keras-JAX in
    this process at floatx float64 with x64, ``arms.keras_f64``), or ``"auto"``: jax if given, else torch, else
    keras.
    Every arm starts from one set of initial weights: the JAX model's ``init(seed)`` where there is one (whichever
    model is the arbiter), else the Keras arbiter's model as built on Keras-JAX (float32) with its initializers
    seeded by ``seed``, else the first torch model's module as built after ``torch.manual_seed(seed)``, mapped to
    the declared names."""
    torch_models = {"torch": torch} if isinstance(torch, TorchModel) else dict(torch or {})
    if jax is not None and not isinstance(jax, JaxModel):
        raise ParityError(f"own_workload: jax is a {type(jax).__name__}; give a JaxModel(apply, init, optimizer, loss)")
    for arm_name, model in torch_models.items():
        if not isinstance(model, TorchModel):
            raise ParityError(
                f"own_workload: torch arm {arm_name!r} is a {type(model).__name__}; give a TorchModel(build, "
                "optimizer, loss)"
            )
    arbiter = _arbiter_of(reference, jax, torch_models, keras)
    arms: list[Arm] = []
    if jax is not None:
        arms.append(jax_arm("jax", jax, params))
        if jax.step_ref is not None:  # the user's own train step, beside paritybench's step of the same model
            arms.append(jax_arm("jax-step", jax, params, own_step=True))
    arms += [torch_arm(arm_name, model, params) for arm_name, model in torch_models.items()]
    on_jax = KerasJax(keras, params, keras_mapping, label=_label(keras)) if keras is not None else None
    if arbiter == "jax":
        assert jax is not None
        arms.append(jax_arm("reference-f64", jax, params, kind="f64", role="reference"))
    elif arbiter == "keras":
        assert keras is not None and on_jax is not None
        arms.append(keras_f64_arm(keras, on_jax))
    else:
        first = next(iter(torch_models.values()))
        arms.append(
            torch_arm(
                "reference-f64",
                first,
                params,
                kind="torch-f64",
                role="reference",
                description=f"your torch model {_label(first.build_ref)} in float64 (module.to(torch.float64), "
                f"{_label(first.optimizer_ref)}, loss {_label(first.loss_ref)}): the arbiter",
            )
        )
    # one set of initial weights for every arm: the JAX model's init(seed) where there is one, else the arbiter's
    init: Ref
    build: Ref = _no_jax_model(name)
    if jax is not None:
        init, build = jax.init(params), jax.jax_apply(params)
    elif on_jax is not None and arbiter == "keras":
        init, build = _as(on_jax.init(), keras), _as(on_jax.jax_apply(), keras)
    else:
        init = next(iter(torch_models.values())).init(params)
    keras_build_fn: Ref = build  # never called without a Keras arm; Model needs one
    if keras is not None:
        keras_build_fn = keras_build(keras, params, keras_mapping)
        arms.insert(
            1 if jax is not None else 0,
            Arm.keras(backend, f"your Keras model {keras} as compiled", compiled_loss(keras), keras_step=keras_step),
        )
    return OwnWorkload(
        jax_model=jax,
        torch_models=torch_models,
        keras_arbiter=on_jax if arbiter == "keras" else None,
        arbiter={"arm": "reference-f64", "framework": arbiter, "dtype": "float64", "chosen": reference},
        name=name,
        version="1",
        question=question,
        sources=(),
        data=data,
        training=training,
        model=Model(
            params=dict(params),
            head=head,
            init=init,
            jax_apply=build,
            keras_build=keras_build_fn,
            jax_layers=jax.jax_layers(params) if jax is not None else None,
            keras_weighted_layers=keras is not None,
        ),
        arms=tuple(arms),
        fix=arms[0].name,
    )
