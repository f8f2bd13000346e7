"""The user's Keras model as a pure JAX function in the harness's own process: the Keras float64 arbiter.

The runner needs its arbiter in its own process (the float64 gradient at other arms' weights, ``localize``'s
teacher-forced phases), and a Keras worker cannot give it that. So the user's factory also runs here, on Keras's
JAX backend, and the model is used as Keras's own JAX trainer uses it (``keras/src/backend/jax/trainer.py``):

- forward: ``model.stateless_call(trainable_values, non_trainable_values, x)`` (``keras/src/layers/layer.py``),
  the values in ``model.trainable_variables`` order, renamed from the declared names by :func:`mapping.plan`;
- loss: the compiled loss (``model.loss``): a string through ``keras.losses.get``, a ``keras.losses.Loss`` by its
  per-sample ``call`` (its ``sum_over_batch_size`` reduction is the mean the trainer takes);
- update: the compiled optimizer's ``stateless_apply(optimizer_values, grads, trainable_values)``
  (``keras/src/optimizers/base_optimizer.py``) as an optax transformation whose update is ``new - params``
  (``optax.apply_updates`` adds it back: one float64 rounding per step, 2**-53 relative, far below the bound the
  tests measure against the torch float64 arbiter).

float64 is three switches, all needed: Keras's ``floatx`` and its global dtype policy when the factory runs (every
layer's variables, the compiled loss object and the optimizer's learning rate are made in them; the policy is made
from ``floatx`` the first time it is asked for and then kept, keras/src/dtype_policies/dtype_policy.py
``dtype_policy``, so ``floatx`` alone does not reach a second build), and JAX's x64 around every call
(``jax.enable_x64``, as ``arms.f64`` takes it): Keras on JAX without x64 asks for float64 and silently gets
float32 arrays. The same factory at the default ``floatx`` without x64 is the float32 twin (``localize``'s noise
floor). Keras is imported here with ``KERAS_BACKEND=jax`` (Keras fixes its backend at import,
``keras/src/backend/config.py``), and never seeds through ``keras.utils.set_random_seed``, which imports
TensorFlow when installed (``keras/src/utils/rng_utils.py``): TensorFlow and torch's Triton in one
process abort it. A model this cannot run in float64 is refused before training, in one line.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from paritybench.errors import ParityError
from paritybench.workloads.base import Ref, resolve_ref

from . import keras_params
from .calls import declared_table, renaming, user_call
from .mapping import WeightMap, plan

Shapes = Mapping[str, tuple[int, ...]]
REGULARIZERS = ("kernel_regularizer", "bias_regularizer", "recurrent_regularizer", "activity_regularizer")
FIX = "give reference='torch' or reference='jax' (with that model) for the float64 arbiter"


def keras_on_jax() -> Any:
    """Keras, imported in this process on its JAX backend (a one-line error if it was imported on another)."""
    if "keras" not in sys.modules:
        before = os.environ.get("KERAS_BACKEND")
        os.environ["KERAS_BACKEND"] = "jax"  # read once, when Keras is imported; the workers set their own
        try:
            import keras  # noqa: F401  # late: a framework: its backend is chosen when it is imported, just above
        finally:
            if before is None:
                os.environ.pop("KERAS_BACKEND", None)
            else:
                os.environ["KERAS_BACKEND"] = before
    module: Any = sys.modules["keras"]
    if module.backend.backend() != "jax":
        raise ParityError(
            f"the Keras float64 arbiter runs Keras on JAX in paritybench's own process, where Keras was already "
            f"imported on {module.backend.backend()!r} (by the workload file or a module it imports): name the factory "
            f"as keras='module:function' so that it loads later, or {FIX}"
        )
    return module


@contextlib.contextmanager
def keras_in(dtype: str) -> Iterator[None]:
    """Keras computing in ``dtype`` for the calls inside. For float64 that is ``floatx`` float64 and Keras's type
    promotion kept in 64 bits: on every backend but TensorFlow Keras maps a promoted float64 to float32
    (keras/src/backend/common/dtypes.py ``BIT64_TO_BIT32_DTYPE``, "aligned with JAX's default", i.e. x64 off), so
    an op that promotes (``ops.tanh``: ``result_type(x.dtype, float)``) turns a float64 tensor into float32 even
    with x64 on (measured: a float64 Dense(tanh) 1.2e-7 from NumPy's float64). The entry is set to float64 here, as
    Keras has it for TensorFlow, and given back after; with the JAX x64 the arbiter runs under, float64 stays."""
    if dtype != "float64":
        yield
        return
    from keras.src.backend.common import dtypes  # late: a framework, imported on JAX by keras_on_jax

    keras = keras_on_jax()
    table = getattr(dtypes, "BIT64_TO_BIT32_DTYPE", None)
    if not isinstance(table, dict) or "float64" not in table:
        raise ParityError(
            f"this Keras ({keras.__version__}) has no keras.src.backend.common.dtypes.BIT64_TO_BIT32_DTYPE['float64'] "
            f"to keep its type promotion in float64 on JAX; {FIX}"
        )
    before = table["float64"], keras.config.floatx()
    table["float64"] = "float64"
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        table["float64"] = before[0]
        keras.config.set_floatx(before[1])


def seeded_build(keras: Any, factory: Callable[[], Any], seed: int) -> Any:
    """``factory()`` with Keras's unseeded initializers drawing from ``seed``: what ``keras.utils.set_random_seed``
    does for Keras itself (keras/src/utils/rng_utils.py: the global ``SeedGenerator`` dropped, Python's and
    NumPy's generators seeded; a new global generator takes its seed from Python's, random/seed_generator.py
    ``make_default_seed``), without its TensorFlow seeding, and with this process's generators given back after."""
    from keras.src.backend.common import global_state  # late: a framework, imported on JAX just before
    from keras.src.random import seed_generator  # late: as above

    py, npy = random.getstate(), np.random.get_state()
    try:
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
        random.seed(seed)
        np.random.seed(seed)
        return factory()
    finally:
        global_state.set_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR, None)
        random.setstate(py)
        np.random.set_state(npy)


@dataclass
class Built:
    """One build of the user's model in one dtype: the model, the declared name of each of its trainable
    variables (in ``model.trainable_variables`` order), its compiled optimizer (built) and its loss."""

    model: Any
    names: list[str]
    optimizer: Any
    loss: Callable[[Any, Any], Any]


class KerasJax:
    """The user's Keras factory on Keras's JAX backend in this process, as the functions an f64-style arm takes
    (``jax_apply``, ``loss_fn``, ``optimizer``) over the declared names, in float64 or float32 by the dtype of the
    weights it is given; ``init`` gives the model's own initial weights after a seed."""

    def __init__(self, factory: Ref, declared: Shapes, mapping: Mapping[str, Any] | None = None, label: str = ""):
        self.factory, self.declared = factory, dict(declared)
        self.mapping = dict(mapping or {})
        self.label = label or str(factory)
        self._built: dict[str, Built] = {}
        self._layers: dict[str, tuple[list, Any]] = {}  # keras_params.weighted_layers of each dtype's build
        self.weight_maps: dict[str, WeightMap] = {}  # by the dtype of the build it matched

    def build(self, dtype: str) -> Built:
        """The model built in ``dtype`` ("float64" or "float32"), checked, once per dtype."""
        if dtype in self._built:
            return self._built[dtype]
        import jax  # late: a framework: the arm runs after the numerics flags

        keras = keras_on_jax()
        # eagerly, also when the first call is traced (jax.jit of the arbiter's loss): the model's and the optimizer's
        # variables are made here and kept, and a tracer kept past its trace is an error
        with jax.ensure_compile_time_eval(), jax.enable_x64(dtype == "float64"), keras_in(dtype):
            before = keras.config.floatx(), keras.config.dtype_policy()
            keras.config.set_floatx(dtype)
            keras.config.set_dtype_policy(dtype)  # the global policy is kept once made; floatx alone is not enough
            try:
                model = user_call(f"Keras model {self.label}", resolve_ref(self.factory))
                if not isinstance(model, keras.Model):
                    raise ParityError(f"{self.label} returns a {type(model).__name__}: return a keras.Model")
                built = Built(model, self._names(model), self._optimizer(model), self._loss(keras, model))
            finally:
                keras.config.set_floatx(before[0])
                keras.config.set_dtype_policy(before[1])
            self._check(keras, built, dtype)
        self._built[dtype] = built
        return built

    def _names(self, model: Any) -> list[str]:
        m = plan(declared_table(self.declared), keras_params.read_keras(model), **self.mapping)
        by_target = renaming(m, f"Keras model {self.label}")
        self.weight_maps[str(model.trainable_variables[0].dtype)] = m  # the artifact records the float64 one
        return [by_target[v.path] for v in model.trainable_variables]

    def _optimizer(self, model: Any) -> Any:
        if not getattr(model, "compiled", False) or model.optimizer is None:
            raise ParityError(
                f"the Keras model from {self.label} is not compiled with an optimizer: compile it (optimizer=..., "
                "loss=...) for the Keras float64 arbiter"
            )
        model.optimizer.build(model.trainable_variables)
        return model.optimizer

    def _loss(self, keras: Any, model: Any) -> Callable[[Any, Any], Any]:
        loss = model.loss
        if loss is None or isinstance(loss, (list, tuple, dict)):
            raise ParityError(
                f"the Keras model from {self.label} is compiled with {'no' if loss is None else 'several'} loss: the "
                f"Keras float64 arbiter takes one compiled loss; compile it with one, or {FIX}"
            )
        if isinstance(loss, str):
            loss = keras.losses.get(loss)
            model.loss = loss  # this private build's, resolved as compile resolves it: what the conventions read
        if isinstance(loss, keras.losses.Loss):
            if loss.reduction != "sum_over_batch_size":
                raise ParityError(
                    f"the Keras model from {self.label} is compiled with a loss of reduction {loss.reduction!r}: the "
                    f"Keras float64 arbiter takes the mean over the batch ('sum_over_batch_size'); {FIX}"
                )
            return loss.call  # per sample; the trainer's mean is the reduction's
        return loss

    def _check(self, keras: Any, built: Built, dtype: str) -> None:
        """What the arbiter cannot run: state outside the trainable weights, losses added in the forward pass,
        any variable not in ``dtype``."""
        model = built.model
        if model.non_trainable_variables:
            what = ", ".join(sorted({v.path for v in model.non_trainable_variables})[:3])
            raise ParityError(
                f"the Keras model from {self.label} has non-trainable variables ({what}: a BatchNormalization's "
                f"moving statistics, a Dropout's seed): the Keras float64 arbiter runs trainable weights only; {FIX}"
            )
        for layer in keras_params._layers(model):
            regs = [a for a in REGULARIZERS if getattr(layer, a, None) is not None]
            if regs:
                raise ParityError(
                    f"the Keras model from {self.label}: layer {layer.name} has a {regs[0]}, a loss added in the "
                    f"forward pass that the Keras float64 arbiter does not add; {FIX}"
                )
        wrong = [
            f"{v.path} ({v.dtype})"
            for v in (*model.trainable_variables, *built.optimizer.variables)
            if "float" in str(v.dtype) and str(v.dtype) != dtype
        ]
        if wrong:
            raise ParityError(
                f"the Keras model from {self.label} built with floatx {dtype!r} has {wrong[0]}: a layer or optimizer "
                f"with a dtype of its own; give it none for the Keras float64 arbiter, or {FIX}"
            )

    # ------------------------------------------------------------------ the arm's functions

    @staticmethod
    def _dtype(tree: Mapping[str, Any]) -> str:
        import jax.numpy as jnp  # late: a framework: the arm runs after the numerics flags

        return str(jnp.result_type(next(iter(tree.values()))))  # float32 where x64 is off

    def jax_apply(self) -> Callable[[Any, Any], Any]:
        def apply(params: Mapping[str, Any], x: Any) -> Any:
            dtype = self._dtype(params)
            b = self.build(dtype)
            with keras_in(dtype):  # training=True as fit calls it; no layer whose output depends on it is accepted
                z, _, losses = b.model.stateless_call(
                    [params[n] for n in b.names], [], x, training=True, return_losses=True
                )
            if losses:  # found when the shape check first traces it, before training
                raise ParityError(
                    f"the Keras model from {self.label} adds {len(losses)} loss(es) in its forward pass (add_loss): "
                    f"the Keras float64 arbiter trains the compiled loss only; {FIX}"
                )
            return z

        return apply

    def jax_layers(self) -> Callable[[Any, Any], dict[str, Any]]:
        """``(params, x) -> {layer: output}`` for ``localize``'s forward phase, as a Keras arm's worker shows them
        (``keras_params.weighted_layers``: each layer with weights by its own name, before a fused activation), by
        ``stateless_call`` over the declared weights: the sub-model to the layers' inputs, then each fused layer
        on its input with its activation off, in the weights' dtype."""

        def layers(params: Mapping[str, Any], x: Any) -> dict[str, Any]:
            dtype = self._dtype(params)
            b = self.build(dtype)
            keras = keras_on_jax()
            if dtype not in self._layers:
                self._layers[dtype] = keras_params.weighted_layers(keras, b.model)
            named, sub = self._layers[dtype]
            if sub is None:
                return {}
            value = {id(v): params[n] for v, n in zip(b.model.trainable_variables, b.names, strict=True)}

            def call(fn: Any, v: Any) -> Any:
                trained = [value[id(w)] for w in fn.trainable_variables]
                if isinstance(fn, keras.Model):
                    return fn.stateless_call(trained, [], v, training=True)[0]
                return fn.stateless_call(trained, [], v)[0]

            with keras_in(dtype):
                return keras_params.layer_outputs(named, sub, x, call)

        return layers

    def loss_fn(self) -> Callable[[Any, Any], Any]:
        def loss(z: Any, y: Any) -> Any:
            dtype = self._dtype({"z": z})
            b = self.build(dtype)
            with keras_in(dtype):
                return b.loss(y, z)  # Keras's order: (y_true, y_pred)

        return loss

    def optimizer(self) -> KerasOptimizer:
        return KerasOptimizer(self)

    def init(self) -> Callable[..., dict[str, np.ndarray]]:
        """``(seed, threefry_partitionable) -> declared weights``: the model's own initial weights, built in float32
        on Keras-JAX with Keras's initializers seeded by ``seed`` (:func:`seeded_build`), mapped onto the declared
        names by :func:`mapping.plan` from the model to the declaration. Checked both ways: the arm's map applied
        to these weights gives the model's weights back, bit for bit."""

        def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
            import jax  # late: a framework: the arm runs after the numerics flags

            keras = keras_on_jax()
            fn = resolve_ref(self.factory)
            with jax.enable_x64(False):
                model = seeded_build(keras, lambda: user_call(f"Keras model {self.label}", fn), seed)
            own = keras_params.keras_arrays(model)
            overrides = {v: k for k, v in dict(self.mapping.get("overrides") or {}).items() if isinstance(v, str)}
            back = plan(
                keras_params.read_keras(model),
                declared_table(self.declared),
                overrides=overrides,
                ignore=self.mapping.get("ignore", ()),
            )
            weights = back.apply(own)
            forth = plan(declared_table(self.declared), keras_params.read_keras(model), **self.mapping)
            for name, value in forth.apply(weights).items():
                if not np.array_equal(value, own[name]):
                    raise ParityError(
                        f"initial weights from your Keras model {self.label}: {name} does not come back from the "
                        "declared weights through the arm's weight map; map the model one-to-one"
                    )
            return {k: np.asarray(v, np.float32) for k, v in weights.items()}

        return init


class KerasOptimizer:
    """``lr -> optax.GradientTransformation`` running the compiled Keras optimizer of ``on_jax``'s model (its own
    learning rate: ``Training.lr`` does not reach it, as it does not reach the Keras worker's compiled optimizer);
    ``on_jax`` is there for the conventions, which read that optimizer as a Keras arm's."""

    def __init__(self, on_jax: KerasJax) -> None:
        self.on_jax = on_jax

    def __call__(self, lr: float) -> Any:
        import optax  # late: a framework: the arm runs after the numerics flags

        on_jax = self.on_jax

        def init(params: Mapping[str, Any]) -> Any:
            return tuple(v.value for v in on_jax.build(on_jax._dtype(params)).optimizer.variables)

        def update(grads: Mapping[str, Any], state: Any, params: Any = None) -> tuple[Any, Any]:
            if params is None:
                raise ParityError("the Keras float64 arbiter's optimizer needs the weights (optax params=)")
            dtype = on_jax._dtype(params)
            b = on_jax.build(dtype)
            tv = [params[n] for n in b.names]
            with keras_in(dtype):
                new, new_state = b.optimizer.stateless_apply(list(state), [grads[n] for n in b.names], tv)
            return {n: a - params[n] for n, a in zip(b.names, new, strict=True)}, tuple(new_state)

        return optax.GradientTransformation(init, update)
