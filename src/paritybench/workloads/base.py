"""The workload interface: what a workload supplies, declared once.

A workload is one question about training parity: its data recipe, its model
(parameter names and shapes declared once, then one forward pass per framework),
its training preset, its arms and its known answer. Everything generic in
paritybench (config, runner, Keras workers, artifact, studies, compare, report,
timing) reaches a workload only through the objects below and never knows its
names or shapes.

This module imports no ML framework: Keras workers load workloads before Keras
decides its backend, and the numerics flags must be set before any framework
loads. Framework code is given as a callable (which imports its framework
inside) or as a ``"package.module:function"`` reference: checked when the
workload loads, by reading the module's source (``refs``), and imported on
first use. The built-in workloads are built on ``kit``; the arm constructors
are ``kit.arms``.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from paritybench.errors import ParityError
from paritybench.workloads import refs

# A callable, or "package.module:attribute" naming one (imported when first called).
Ref = Callable[..., Any] | str

NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PROCESSES = ("main", "keras-tensorflow", "keras-jax", "keras-torch")
KINDS = ("jax", "f64", "keras", "torch", "torch-f64", "keras-f64")
# the kinds a workload's reference (its float64 arbiter) may be: JAX with x64, or a torch arm in float64
ARBITER_KINDS = ("f64", "torch-f64", "keras-f64")
# the kinds whose forward pass is a JAX function (``jax_apply``, ``loss_fn``, ``optimizer``, ``jax_layers``)
JAX_KINDS = ("jax", "f64", "keras-f64")
TORCH_KINDS = ("torch", "torch-f64")
HEADS = ("sigmoid", "softmax", "linear")
# mnist: paritybench.experiment.data's bundled slice, or --data in its format; arrays: Data(source=...)
DATASETS = ("mnist", "arrays")
LABELS = ("binary", "onehot10", "given")
CLASSES = ("stable", "chaotic")


def resolve_ref(ref: Ref) -> Callable[..., Any]:
    """The callable behind ``ref`` (imports ``package.module`` for a string reference)."""
    if callable(ref):
        return ref
    module, _, attr = ref.partition(":")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Data:
    """How a window of training data is made.

    Two kinds (``dataset``):

    - ``"mnist"`` (the default without a ``source``): the bundled MNIST slice, or ``--data`` in Keras's
      ``mnist.npz`` format. ``labels``: ``"binary"`` (the default), the label ``digit >= 5`` as float32
      (n, 1); or ``"onehot10"``, the digit one-hot as float32 (n, 10). ``normalize`` scales pixels to
      [0, 1] (the seed used raw 0-255).
    - ``"arrays"`` (the default with a ``source``): your own samples and targets, any shape and numeric
      dtype (float features, images, integer tokens; class ids, one-hot, multi-label, regression values).
      ``source``: an ``.npz`` path, relative to the workload's own file, whose arrays ``x`` and ``y`` name
      the samples and targets (default ``"x"`` and ``"y"``); or a ``"package.module:function"`` (a module
      beside the workload file imports) or a callable, returning ``(x, y)``. ``labels`` is ``"given"``:
      the targets are used as they are (floating arrays as float32). ``shuffle``: None keeps the file's
      order; an int permutes the samples once, with NumPy's ``default_rng(shuffle)``, before any window
      (recorded in the artifact's ``environment.data``, with the data's sha256, shapes and dtypes).

    ``n``: samples per window. ``batch_size`` None is full-batch training (every step sees the whole
    window); an int divides ``n`` into ``n / batch_size`` batches in window order: step k trains on batch
    ``k mod (n / batch_size)`` (``paritybench.arms.minibatch``). ``holdout`` > 0 samples right after the
    training window are evaluated in evaluation mode after every step (the moving statistics of a
    stateful model, rather than the batch's).
    """

    dataset: str = ""  # "": mnist without a source, arrays with one
    labels: str = ""  # "": binary for mnist, given for arrays
    n: int = 1000
    normalize: bool = False
    batch_size: int | None = None
    holdout: int = 0
    source: str | Callable[..., Any] | None = None
    x: str | None = None
    y: str | None = None
    shuffle: int | None = None

    def __post_init__(self) -> None:
        # The kind follows from whether a source is named; MNIST's labels default to binary, a source's are given.
        if self.dataset == "":
            object.__setattr__(self, "dataset", "mnist" if self.source is None else "arrays")
        if self.labels == "":
            object.__setattr__(self, "labels", "binary" if self.dataset == "mnist" else "given")

    @property
    def source_kind(self) -> str | None:
        """``"npz"`` (a path), ``"function"`` (a callable or ``"module:function"``), or None (MNIST)."""
        if self.source is None:
            return None
        return "npz" if isinstance(self.source, str) and self.source.endswith(".npz") else "function"


@dataclass(frozen=True)
class Training:
    """The preset: how many optimizer steps at which learning rate."""

    steps: int = 10
    lr: float = 0.01


@dataclass(frozen=True)
class Model:
    """The architecture, declared once and built per framework from that declaration.

    - ``params``: parameter name -> shape, in the (in, out) kernel layout Keras and JAX share.
      Weights travel between arms as ``{name: float32 array}`` checked against this.
    - ``head``: ``"sigmoid"`` (one logit per 0/1 label: (n, 1), or multi-label (n, k) or (n, T, k)),
      ``"softmax"`` (k logits per sample or sequence position, against one-hot rows of the logits' shape or
      integer class ids (n,) or (n, T); (n, 1) or (n, T, 1) ids are squeezed to these) or ``"linear"`` (a
      regression: no activation, the metric is the loss);
      ``paritybench.experiment.heads`` says what each counts as correct. The model's last layer computes the
      logits; the head's activation turns them into what a Keras loss with ``from_logits=False`` receives.
    - ``init(seed, threefry_partitionable) -> weights``: the one source of initial weights.
    - ``jax_apply(params, x) -> logits``: a pure JAX forward pass over a dict of named arrays.
    - ``keras_build(keras, **options) -> (model, {name: variable})``: a Keras model whose output is the
      head's activation of the logits (its last layer has ``activation``), and the mapping of
      its variables to the declared names; transfer is checked by name and shape.
    - ``f64_loss_and_grad(weights, x, y) -> (mean loss, grads, logits)``: optional hand-written
      float64 arbiter (NumPy); without it the arbiter is ``jax_apply`` and the reference loss
      differentiated by JAX in float64.
    - ``f64_forward(weights, x) -> logits``: optional NumPy float64 forward pass, likewise.
    - ``state``: non-trainable variable name -> shape (BatchNormalization's moving mean and variance),
      with ``state_init`` name -> the constant it starts from (default 0.0), or a tuple of one value per element
      (a dropout layer's seed-generator state [seed, 0]). A workload that declares
      state has a stateful forward pass, ``jax_apply(params, x, state=..., training=True) ->
      (logits, new_state)`` (``training=False``: evaluation mode, state unchanged), its ``keras_build``
      maps these names to the Keras layer's variables too, and its arms are trained by
      ``paritybench.arms.minibatch`` (float64 through JAX; ``f64_loss_and_grad`` is not used).
    - ``jax_layers(params, x) -> {name: array}``: optional, each named layer's output in forward order
      (``paritybench localize``'s forward phase lists them before the logits; the f64 arbiter runs the
      same function under x64). ``keras_layers``: optional, name -> index into the built Keras model's
      ``layers`` whose output is that same tensor (a Dense with ``activation="relu"`` gives the ReLU's
      output, so a pre-activation name has no Keras counterpart and is compared among the JAX arms only).
      ``keras_weighted_layers``: True (adapter workloads, ``adapters.arms.own_workload``): a Keras arm also shows
      every layer with weights by the layer's own name, as its weighted part's output, before a fused
      activation (``Dense(16, activation="tanh", name="hidden")`` shows ``hidden`` as ``x @ kernel + bias``, what
      a torch forward hook on an ``nn.Linear`` named ``hidden`` sees; an LSTM's output as it is):
      ``arms.keras_inspect.WeightedLayers``; the Keras float64 arbiter shows the same (``KerasJax.jax_layers``).
    - ``torch_apply(params, x) -> logits``: optional functional torch forward pass over a dict of named
      float32 tensors in the declared (in, out) layout (``paritybench.arms.torch_trainer``); needed by the
      workload's torch arms that do not bring their own. ``torch_layers(params, x) -> {name: tensor}``:
      optional, ``jax_layers``'s twin in torch (the same names, in forward order), so a torch arm's forward
      phase shows each named layer, not only its logits.
    """

    params: Mapping[str, tuple[int, ...]]
    head: str
    init: Ref
    jax_apply: Ref
    keras_build: Ref
    f64_loss_and_grad: Ref | None = None
    f64_forward: Ref | None = None
    state: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    state_init: Mapping[str, float | tuple[float, ...]] = field(default_factory=dict)
    jax_layers: Ref | None = None
    keras_layers: Mapping[str, int] = field(default_factory=dict)
    keras_weighted_layers: bool = False
    torch_apply: Ref | None = None
    torch_layers: Ref | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.params)

    def initial_state(self) -> dict[str, Any]:
        """The state's starting values, float32 NumPy arrays (empty for a stateless model)."""
        return {
            k: np.array(v, np.float32).reshape(shape)
            if isinstance(v := self.state_init.get(k, 0.0), tuple)
            else np.full(shape, v, np.float32)
            for k, shape in self.state.items()
        }


@dataclass(frozen=True)
class KerasEdit:
    """One config setting of a built Keras arm, changed by its worker after ``keras_build`` and before it trains or
    is inspected (``arms.keras_worker.apply_edits``): ``key`` of ``get_config()`` set to ``value`` (a JSON value).

    - ``part``: ``"layer"`` (every layer of class ``cls`` whose config has ``key``, every layer for ``cls``
      ``"Layer"``; the model is cloned with those layers rebuilt by ``from_config`` and every weight copied),
      ``"optimizer"`` or ``"loss"`` (rebuilt by its class's ``from_config``; ``cls`` None, or the class name it
      must have).
    - ``only``: a layer edit changes only the layers whose ``key`` reads this (None: every one of ``cls``).
    The worker refuses an edit that no layer (or a loss or optimizer without ``key``) takes, naming it. A loss edit
    ``from_logits=True`` also takes the head's activation off the model's last layer: the loss receives the logits,
    and the worker applies the head's activation wherever it reads probabilities (its accuracy counts)."""

    part: str
    cls: str | None
    key: str
    value: Any
    only: Any = None

    def text(self) -> str:
        where = f"{self.part} {self.cls}" if self.cls else self.part
        when = f" where it is {self.only!r}" if self.only is not None else ""
        return f"{where}.{self.key}={self.value!r}{when}"


@dataclass(frozen=True)
class Arm:
    """One way of training the workload's model, and where it runs.

    - ``kind``: ``"jax"`` (trained in the harness's process by one compiled JAX program),
      ``"f64"`` (the float64 arbiter, in the harness's process), ``"keras"`` (Keras 3
      ``fit`` in a worker process per backend; ``process`` names the backend), ``"torch"`` (native
      torch autograd and ``torch.optim``, in the harness's process: ``paritybench.arms.torch_trainer``), or
      ``"torch-f64"`` (a torch arm in float64: the arbiter of a workload without a JAX model,
      ``paritybench.arms.torch_f64``), or ``"keras-f64"`` (the user's Keras model on Keras-JAX in float64, in the
      harness's process, as an f64 arm's JAX functions: ``paritybench.arms.keras_f64``).
    - ``loss``: a short name of the loss formulation (recorded in every run).
    - ``loss_fn``: JAX and f64 arms: ``(logits, labels) -> per-sample loss`` in JAX.
    - ``optimizer``: JAX and f64 arms: ``lr -> optax.GradientTransformation``; None is plain
      SGD written out (``w - lr * g``), the seed's update.
    - ``keras_loss`` / ``keras_optimizer``: Keras arms: ``keras -> loss`` and
      ``(keras, lr) -> optimizer`` (default ``keras.optimizers.SGD``).
    - ``emulates``: a JAX arm that re-implements a Keras arm's update (the mechanism check
      holds the two to ``MECHANISM_TOLERANCE`` after step 1).
    - ``expected``: ``"stable"`` or ``"chaotic"`` under a one-ulp perturbation of the initial
      weights, with ``evidence`` (a measured figure) — compare's default classes.
    - ``role``: free text for the report: ``"port"``, ``"fix"``, ``"keras"``, ``"emulation"``,
      ``"reference"``.
    - ``jax_apply``: JAX and f64 arms: this arm's own forward pass ``(params, x) -> logits``
      over the same declared parameters (a port that pads or broadcasts differently); None is
      the workload's ``Model.jax_apply``.
    - ``keras_step``: Keras arms: how one optimizer step is taken, as the user's own loop takes it: ``"fit"``
      (``model.fit`` over the step's batch, one epoch of one batch; the default) or ``"train_on_batch"``
      (``model.train_on_batch(x, y)``). Both run the model's compiled train function once on the batch.
    - ``keras_options``: Keras arms: keyword arguments for the workload's ``keras_build(keras,
      **options)`` (a regularizer, a padding mode): the same declared variables, another layer
      setting.
    - ``keras_edits``: Keras arms: ``KerasEdit`` settings the worker applies to the built model, its optimizer and its
      loss before training (``explain``'s switches on a Keras arm: another layer epsilon, another optimizer flag);
      empty: the model ``keras_build`` gives, as built.
    - ``conventions``: the arm's declared effective settings (loss path, optimizer, ...).
    - ``init``: this arm's own initial weights ``(seed, threefry_partitionable) -> weights`` over the
      declared parameters (a workload about initialisers: no shared weights by design); None is the
      workload's ``Model.init``. Used where the runner draws initial weights per case; explicit
      ``inits`` (a sensitivity study's perturbed copies) apply to every arm.
    - ``jax_layers``: an arm with its own ``jax_apply``: its own named-layer outputs (``Model.jax_layers``'s
      names), so ``localize`` sees where its forward pass departs; None shows its logits only.
    - ``torch_loss`` / ``torch_optimizer`` / ``torch_apply``: torch arms: ``(logits, labels) -> mean loss``
      in torch; ``(params: {name: tensor}, lr) -> torch.optim.Optimizer`` (a dict, so that a port can put
      kernels and biases in separate parameter groups; default ``torch.optim.SGD(lr)``, i.e. ``w - lr * g``);
      this arm's own functional forward pass (None: ``Model.torch_apply``).
    - ``torch_layers``: a torch arm's own named-layer outputs ``(params, x) -> {name: tensor}``
      (``Model.torch_layers``'s names), as ``jax_layers`` for a JAX arm; None: ``Model.torch_layers`` where the
      arm uses the model's ``torch_apply``, else its logits only.
    - ``torch_grad_hook``: a torch arm: ``(params: {name: tensor}) -> None``, called between ``backward()`` and
      the optimizer's ``step()`` with every parameter's ``.grad`` set, to change them in place (a training
      loop's ``torch.nn.utils.clip_grad_norm_(params.values(), 1.0)``); None changes nothing. ``localize``
      compares the raw autograd gradient in its backward phase and the hook's effect in the update phase;
      ``conventions`` shows what the hook does to a probe gradient (its "gradient clipping" row).
    - ``matches``: a torch arm: the JAX arm that implements its convention (optax ``adam`` for
      ``torch.optim.Adam``, ...). The runner's mechanism check holds the two to ``MECHANISM_TOLERANCE``
      after step 1, as it holds a Keras arm to its ``emulates``.
    - ``shuffle_seed``: a minibatch workload's (``Data.batch_size``) Keras, JAX or f64 arm: None trains the batches
      in window order (``fit(shuffle=False)``); an int trains each epoch's batches in the order Keras's
      ``fit(shuffle=True)`` draws on a freshly compiled model after ``keras.utils.set_random_seed(seed)``. A Keras arm
      draws it with its backend's own epoch iterator (NumPy's global generator on JAX, ``tf.random.shuffle`` on
      TensorFlow, ``torch.randperm`` on torch: ``arms.keras_worker.fit_order``); a JAX or f64 arm reproduces the JAX
      backend's, NumPy's ``RandomState(seed)`` permutations (``arms.minibatch.numpy_fit_order``). Each step's rows are
      recorded in the run's ``info["shuffle"]``.
    - ``jax_step``: a ``"jax"`` arm's own training step ``(params, opt_state, x, y) -> (params, opt_state, loss)``
      over the declared names (a user's jitted train step, ``adapters.arms.JaxModel(step=...)``): it takes each
      step in place of the ``optimizer``'s update, from the state ``optimizer(lr).init(params)`` and then the state
      it returns; the per-step diagnostics and gradients are still paritybench's, from ``loss_fn`` at each step's
      weights, and the loss it returns is held to them (``info["user_step"]``). ``localize``'s update phase runs it
      at the teacher-forced weights. None: the optimizer's update (``arms.minibatch.record_and_update``).
    """

    name: str
    description: str
    kind: str
    loss: str
    process: str = "main"
    loss_fn: Ref | None = None
    optimizer: Ref | None = None
    keras_loss: Ref | None = None
    keras_optimizer: Ref | None = None
    requires: tuple[str, ...] = ()
    emulates: str | None = None
    expected: str = "stable"
    evidence: str = ""
    role: str = ""
    conventions: Mapping[str, Any] = field(default_factory=dict)
    jax_apply: Ref | None = None
    keras_options: Mapping[str, Any] = field(default_factory=dict)
    keras_step: str = "fit"
    init: Ref | None = None
    jax_layers: Ref | None = None
    torch_loss: Ref | None = None
    torch_optimizer: Ref | None = None
    torch_apply: Ref | None = None
    torch_layers: Ref | None = None
    matches: str | None = None
    torch_grad_hook: Ref | None = None
    shuffle_seed: int | None = None
    jax_step: Ref | None = None
    keras_edits: tuple[KerasEdit, ...] = ()

    @classmethod
    def keras(
        cls, backend: str, why: str, keras_loss: Ref, *, setting: str = "", name: str | None = None, **kw: Any
    ) -> Arm:
        """A Keras 3 ``fit`` arm in ``backend``'s worker, named ``keras-<backend>`` unless ``name`` says otherwise;
        ``setting`` (", Adam(epsilon=1e-7)") goes into its description after the backend."""
        return cls(
            name or f"keras-{backend}",
            f"Keras 3 fit, {backend} backend{setting}: {why}",
            "keras",
            f"keras:{backend}",
            process=f"keras-{backend}",
            keras_loss=keras_loss,
            requires=("keras", backend),
            role="keras",
            **kw,
        )

    @property
    def needs_gpu(self) -> bool:
        """Arms that only mean something on a GPU (TF32, atomics) declare ``"gpu"`` in ``requires``."""
        return "gpu" in self.requires


@dataclass(frozen=True)
class Workload:
    """A question, its data, its model once per framework, its arms and its answer."""

    name: str
    version: str
    question: str
    sources: tuple[str, ...]
    data: Data
    training: Training
    model: Model
    arms: tuple[Arm, ...]
    fix: str
    reference: str = "reference-f64"
    # Filled in by the loader: where the workload came from (builtin, file, module, entry point).
    origin: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def arm_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.arms)

    def arm(self, name: str) -> Arm:
        for a in self.arms:
            if a.name == name:
                return a
        raise ParityError(f"unknown arm {name} in workload {self.name}: valid arms are {', '.join(self.arm_names)}")

    def resolve_arms(self, names) -> tuple[Arm, ...]:
        """The named arms (every arm when empty), in the workload's order."""
        if not names:
            return self.arms
        unknown = [n for n in names if n not in self.arm_names]
        if unknown:
            raise ParityError(
                f"unknown arm {', '.join(unknown)} for workload {self.name}: valid arms are {', '.join(self.arm_names)}"
            )
        return tuple(a for a in self.arms if a.name in names)

    @property
    def emulations(self) -> dict[str, str]:
        """Keras arm -> the JAX arm that emulates it."""
        return {a.emulates: a.name for a in self.arms if a.emulates}

    @property
    def mechanism_pairs(self) -> dict[str, str]:
        """What the runner's mechanism check pairs: each Keras arm with its emulation, each torch arm with the JAX
        arm it ``matches``."""
        return {**self.emulations, **{a.name: a.matches for a in self.arms if a.matches}}

    @property
    def expected_classes(self) -> dict[str, str]:
        return {a.name: a.expected for a in self.arms}

    def describe(self) -> dict[str, Any]:
        """What the artifact records of the workload."""
        return {
            "name": self.name,
            "version": self.version,
            "question": self.question,
            "head": self.model.head,
            **dict(self.origin),
        }


# how a Keras arm takes one step (``Arm.keras_step``)
KERAS_STEPS = ("fit", "train_on_batch")
# what a ``KerasEdit`` changes: the built model's layers, the optimizer, the loss
KERAS_EDIT_PARTS = ("layer", "optimizer", "loss")


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)  # True is an int to Python, not a count


# where each kind of arm takes its named layers from (localize's forward phase)
_LAYERS = {
    "jax": "jax_layers",
    "f64": "jax_layers",
    "keras-f64": "jax_layers",
    "torch": "torch_layers",
    "torch-f64": "torch_layers",
    "keras": "the model's keras_layers (indices into the Keras model's layers)",
}


def keras_edits_problem(edits: Any) -> str | None:
    """What is wrong with an ``Arm.keras_edits`` value, in words (None where nothing is)."""
    if not isinstance(edits, tuple) or not all(isinstance(e, KerasEdit) for e in edits):
        return f"keras_edits is {edits!r}: give a tuple of paritybench.workloads.base.KerasEdit(...)"
    for e in edits:
        if e.part not in KERAS_EDIT_PARTS:
            return f"keras edit {e.text()}: part {e.part!r} must be one of {', '.join(KERAS_EDIT_PARTS)}"
        if not isinstance(e.key, str) or not e.key or not (e.cls is None or isinstance(e.cls, str)):
            return f"keras edit {e!r}: give key (a config key) and cls (a class name or None) as strings"
        if e.part == "layer" and e.cls is None:
            return f"keras edit {e.text()}: a layer edit names the layer class it changes (cls)"
        for v in (e.value, e.only):
            if not (v is None or isinstance(v, str | bool | int | float)):
                return f"keras edit {e.text()}: {v!r} is not a config value (a number, a string, a bool or None)"
    return None


def _str_map(m: Any) -> bool:
    return isinstance(m, Mapping) and all(isinstance(k, str) for k in m)


def field_problem(w: Workload) -> str | None:
    """The first field of ``w`` whose type or range is wrong, in words (None when all are right).

    Every field is checked when the workload is loaded, before anything trains: a dataclass
    does not check its annotations, so ``Training(lr=float("inf"))`` or ``Data(n="100")`` would
    otherwise be found out by a framework deep inside a run (or never). A reference field is judged here once:
    its type, its ``"module:function"`` form and its target (``refs.problem``)."""
    for f in ("version", "question", "fix", "reference"):
        if not isinstance(getattr(w, f), str):
            return f"{f} is {getattr(w, f)!r}: give a string"
    if not isinstance(w.sources, tuple) or not all(isinstance(x, str) for x in w.sources):
        return f"sources is {w.sources!r}: give a tuple of strings"
    if not isinstance(w.data, Data):
        return f"data is a {type(w.data).__name__}: give paritybench.workloads.Data(...)"
    if not isinstance(w.training, Training):
        return f"training is a {type(w.training).__name__}: give paritybench.workloads.Training(...)"
    if not isinstance(w.model, Model):
        return f"model is a {type(w.model).__name__}: give paritybench.workloads.Model(...)"
    t, d, m = w.training, w.data, w.model
    if not _is_int(t.steps) or t.steps < 1:
        return f"training.steps is {t.steps!r}: give an int >= 1"
    if not isinstance(t.lr, int | float) or isinstance(t.lr, bool) or not math.isfinite(t.lr) or t.lr <= 0:
        return f"training.lr is {t.lr!r}: give a finite number > 0"
    if not _is_int(d.n) or d.n < 1:
        return f"data.n is {d.n!r}: give an int >= 1 (samples per window)"
    if not isinstance(d.normalize, bool):
        return f"data.normalize is {d.normalize!r}: give True or False"
    if d.source is not None and not (callable(d.source) or isinstance(d.source, str)):
        return f"data.source is {d.source!r}: give an .npz path, a 'package.module:function' string or a callable"
    for f in ("x", "y"):
        if getattr(d, f) is not None and not isinstance(getattr(d, f), str):
            return f"data.{f} is {getattr(d, f)!r}: give the name of an array in the .npz"
    if d.shuffle is not None and (not _is_int(d.shuffle) or d.shuffle < 0):
        return f"data.shuffle is {d.shuffle!r}: give a seed (an int >= 0), or None to keep the order"
    if not isinstance(m.params, Mapping) or not all(isinstance(k, str) for k in m.params):
        return "model.params must map parameter names (strings) to shapes"
    for f in ("state", "state_init", "keras_layers"):
        if not _str_map(getattr(m, f)):
            return f"model.{f} must be a mapping with string keys"
    for k, v in m.state_init.items():
        values = v if isinstance(v, tuple) else (v,)
        if not values or not all(isinstance(u, int | float) and not isinstance(u, bool) for u in values):
            return f"model.state_init[{k!r}] is {v!r}: give a finite number, or a tuple of one per element"
        if not all(math.isfinite(u) for u in values):
            return f"model.state_init[{k!r}] is {v!r}: give a finite number"
        if isinstance(v, tuple) and isinstance(m.state.get(k), tuple) and len(v) != math.prod(m.state[k]):
            return (
                f"model.state_init[{k!r}] has {len(v)} values for a state of shape {m.state[k]}: give one per element"
            )
    if not isinstance(m.keras_weighted_layers, bool):
        return f"model.keras_weighted_layers is {m.keras_weighted_layers!r}: give True or False"
    for k, v in m.keras_layers.items():
        if not _is_int(v):
            return f"model.keras_layers[{k!r}] is {v!r}: give the index (an int) of a layer of the Keras model"
    for f in ("init", "jax_apply", "keras_build"):
        if getattr(m, f) is None:
            return f"model.{f} is None: give a callable or a 'package.module:function' string"
    if not isinstance(w.arms, tuple) or not w.arms or not all(isinstance(a, Arm) for a in w.arms):
        return "arms must be a non-empty tuple of paritybench.workloads.Arm(...)"
    for a in w.arms:
        if not isinstance(a.name, str):
            return f"an arm's name is {a.name!r}: give a kebab-case string"
        for f in ("description", "kind", "loss", "process", "expected", "evidence", "role"):
            if not isinstance(getattr(a, f), str):
                return f"arm {a.name}: {f} is {getattr(a, f)!r}: give a string"
        for f in ("emulates", "matches"):
            if getattr(a, f) is not None and not isinstance(getattr(a, f), str):
                return f"arm {a.name}: {f} is {getattr(a, f)!r}: give an arm name or None"
        if not isinstance(a.requires, tuple) or not all(isinstance(r, str) for r in a.requires):
            return f"arm {a.name}: requires is {a.requires!r}: give a tuple of package names"
        for f in ("conventions", "keras_options"):
            if not _str_map(getattr(a, f)):
                return f"arm {a.name}: {f} must be a mapping with string keys"
        if a.keras_step not in KERAS_STEPS:
            return f"arm {a.name}: keras_step is {a.keras_step!r}: give one of {', '.join(map(repr, KERAS_STEPS))}"
        if (why := keras_edits_problem(a.keras_edits)) is not None:
            return f"arm {a.name}: {why}"
    # every "module:function" reference (its type, its form and its target), read without importing its
    # framework (``refs``)
    for owner, decl in (("model", m), *((f"arm {a.name}", a) for a in w.arms)):
        for name in refs.ref_fields(type(decl)):
            ref = getattr(decl, name)
            if (problem := refs.problem(ref)) is not None:
                return f"{owner}: {name} {ref!r} {problem}"
    return None


def _data_problem(d: Data, head: str) -> str | None:
    """What is wrong with ``d``'s kind, source, labels and head, in words (None when they fit)."""
    if d.dataset == "mnist":
        if d.source is not None:
            return "data.source names your own arrays, but data.dataset is 'mnist': drop dataset='mnist'"
        for f in ("x", "y", "shuffle"):
            if getattr(d, f) is not None:
                return f"data.{f} applies to your own arrays (Data(source=...)), not to MNIST: drop it"
        if d.labels not in ("binary", "onehot10"):
            return f"data.labels is {d.labels!r}: MNIST's labels are binary or onehot10"
        if (head, d.labels) not in (("sigmoid", "binary"), ("softmax", "onehot10")):
            return f"head {head} does not fit labels {d.labels}: sigmoid goes with binary, softmax with onehot10"
        return None
    if d.source is None:
        return "data.dataset 'arrays' needs data.source: an .npz path, or 'package.module:function' returning (x, y)"
    if d.labels != "given":
        return f"data.labels is {d.labels!r}, but your own arrays' targets are used as given: drop labels"
    if d.normalize:
        return "data.normalize scales MNIST's pixels: scale your own arrays where you make them, and drop normalize"
    if d.source_kind == "function":
        for f in ("x", "y"):
            if getattr(d, f) is not None:
                return f"data.{f} names an array in an .npz, but data.source {d.source!r} is a function: drop it"
        if isinstance(d.source, str) and (problem := refs.problem(d.source)) is not None:
            return f"data.source {d.source!r} {problem}"
    if d.source_kind == "npz" and d.x is not None and d.x == d.y:
        return f"data.x and data.y both name the array {d.x!r}: name the samples and the targets"
    return None


def check(w: Any, where: str) -> Workload:
    """Raise ParityError (one line, naming ``where``) unless ``w`` is a well-formed Workload."""
    if not isinstance(w, Workload):
        raise ParityError(
            f"{where} is a {type(w).__name__}, not a paritybench Workload: define "
            "WORKLOAD = paritybench.workloads.Workload(...)"
        )

    def bad(msg: str) -> ParityError:
        return ParityError(f"workload {w.name!r} ({where}): {msg}")

    if not isinstance(w.name, str) or not NAME_RE.match(w.name):
        raise bad("the name must be kebab-case (lower-case words joined by '-'), e.g. my-mlp")
    problem = field_problem(w)
    if problem:
        raise bad(problem)
    if not w.question.strip():
        raise bad("give the question it answers in one sentence (question=...)")
    if w.model.head not in HEADS:
        raise bad(f"model.head is {w.model.head!r}: must be one of {', '.join(HEADS)}")
    if w.data.dataset not in DATASETS:
        raise bad(
            f"data.dataset is {w.data.dataset!r}: must be one of {', '.join(DATASETS)} "
            "(your own arrays: Data(source='file.npz' or 'module:function'); --data PATH takes another file "
            "in MNIST's Keras format)"
        )
    if (problem := _data_problem(w.data, w.model.head)) is not None:
        raise bad(problem)
    if not isinstance(w.data.n, int) or isinstance(w.data.n, bool) or w.data.n < 1:
        raise bad(f"data.n {w.data.n!r} must be an int >= 1 (samples per window)")
    if not isinstance(w.data.normalize, bool):
        raise bad(f"data.normalize {w.data.normalize!r} must be True or False")
    bs = w.data.batch_size
    if bs is not None and (not _is_int(bs) or bs <= 0 or w.data.n % bs):
        raise bad(f"data.batch_size {bs!r} must be a positive int dividing data.n ({w.data.n}), or None")
    if not _is_int(w.data.holdout) or w.data.holdout < 0:
        raise bad(f"data.holdout {w.data.holdout!r} must be an int >= 0 (samples after the training window)")
    for sname, shape in w.model.state.items():
        if sname in w.model.params:
            raise bad(f"model.state[{sname!r}] is also a parameter: state is the non-trainable variables")
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d > 0 for d in shape):
            raise bad(f"model.state[{sname!r}] is {shape!r}: give a tuple of positive ints")
    if set(w.model.state_init) - set(w.model.state):
        raise bad(f"model.state_init names {sorted(set(w.model.state_init) - set(w.model.state))}, not in state")
    if not w.model.params:
        raise bad("model.params declares no parameters")
    for pname, shape in w.model.params.items():
        if not isinstance(shape, tuple) or not all(isinstance(d, int) and d > 0 for d in shape):
            raise bad(f"model.params[{pname!r}] is {shape!r}: give a tuple of positive ints")
    seen: set[str] = set()
    for a in w.arms:
        if not NAME_RE.match(a.name):
            raise bad(f"arm name {a.name!r} must be kebab-case")
        if a.name in seen:
            raise bad(f"arm {a.name} is declared twice")
        seen.add(a.name)
        if a.kind not in KINDS:
            raise bad(f"arm {a.name}: kind {a.kind!r} must be one of {', '.join(KINDS)}")
        if a.process not in PROCESSES:
            raise bad(f"arm {a.name}: process {a.process!r} must be one of {', '.join(PROCESSES)}")
        if (a.kind == "keras") != (a.process != "main"):
            raise bad(f"arm {a.name}: keras arms run in a keras-<backend> process, the others in main")
        if a.kind in JAX_KINDS and a.loss_fn is None:
            raise bad(f"arm {a.name}: a {a.kind} arm needs loss_fn")
        if a.kind == "keras" and a.keras_loss is None:
            raise bad(f"arm {a.name}: a keras arm needs keras_loss")
        if a.keras_edits and a.kind != "keras":
            raise bad(f"arm {a.name}: keras_edits change a Keras arm's built model; a {a.kind} arm has none")
        if a.kind in TORCH_KINDS and a.torch_loss is None:
            raise bad(f"arm {a.name}: a torch arm needs torch_loss")
        if a.kind in TORCH_KINDS and a.torch_apply is None and w.model.torch_apply is None:
            raise bad(f"arm {a.name}: a torch arm needs a forward pass (Arm.torch_apply or Model.torch_apply)")
        if a.torch_grad_hook is not None and a.kind not in TORCH_KINDS:
            raise bad(
                f"arm {a.name}: only a torch arm declares torch_grad_hook (a JAX arm clips in its optax chain, "
                "a Keras arm in its optimizer's clipnorm)"
            )
        if a.jax_step is not None and (a.kind != "jax" or a.optimizer is None or w.model.state):
            raise bad(
                f"arm {a.name}: jax_step is a float32 JAX arm's own step, started from its optimizer's state, on a "
                "model without Model.state: give it on a kind='jax' arm with an optimizer"
            )
        if a.matches is not None and a.kind != "torch":
            raise bad(f"arm {a.name}: only a torch arm declares matches (a Keras arm's JAX twin declares emulates)")
        # named layers are read by the arm's own kind only: one declared on another kind would be ignored
        if a.torch_layers is not None and a.kind not in TORCH_KINDS:
            raise bad(
                f"arm {a.name}: torch_layers is a torch arm's; a {a.kind} arm's named layers are {_LAYERS[a.kind]}"
            )
        if a.jax_layers is not None and a.kind not in JAX_KINDS:
            raise bad(
                f"arm {a.name}: jax_layers is a JAX or f64 arm's; a {a.kind} arm's named layers are {_LAYERS[a.kind]}"
            )
        if a.expected not in CLASSES:
            raise bad(f"arm {a.name}: expected {a.expected!r} must be one of {', '.join(CLASSES)}")
        if a.shuffle_seed is not None:
            if not _is_int(a.shuffle_seed) or a.shuffle_seed < 0:
                raise bad(f"arm {a.name}: shuffle_seed {a.shuffle_seed!r} must be an int >= 0 (Keras's seed), or None")
            if w.data.batch_size is None:
                raise bad(
                    f"arm {a.name}: shuffle_seed orders minibatches, but data.batch_size is None (full batch): "
                    "give Data(batch_size=...) or drop shuffle_seed"
                )
            if a.kind in TORCH_KINDS:
                raise bad(f"arm {a.name}: a torch arm trains its batches in window order: drop shuffle_seed")
    for a in w.arms:
        if a.emulates is not None and (a.emulates not in seen or w.arm(a.emulates).kind != "keras"):
            raise bad(f"arm {a.name} emulates {a.emulates!r}, which is not a Keras arm of this workload")
        if a.matches is not None and (a.matches not in seen or w.arm(a.matches).kind != "jax"):
            raise bad(f"torch arm {a.name} matches {a.matches!r}, which is not a JAX arm of this workload")
    if w.fix not in seen:
        raise bad(f"fix {w.fix!r} is not one of its arms")
    reference = [a for a in w.arms if a.name == w.reference]
    if not reference or reference[0].kind not in ARBITER_KINDS:
        raise bad(
            f"reference {w.reference!r} must be one of its arms, of kind {' or '.join(ARBITER_KINDS)} "
            "(the float64 arbiter)"
        )
    return w
