"""Trains the Keras arms of one backend, in a process of its own.

Keras fixes its backend at import, so the runner starts this module once per backend
(``arms.worker_process.start``; the start-up is ``protocol.worker_main``) and sends it a
``protocol.TrainJob``: tasks (a workload, one of its Keras arms, the training config, the cases: an
id, a data window, an initial-weights file). For each case the worker writes ``final-<arm>-<id>.npz``
and, when asked, ``traj-<arm>-<id>.npz`` (weights after every step) into the job's folder and reports
``CaseDone`` with the case's curves, so the runner records finished cases even if a later one fails;
then ``Trained``, and once the runner sends the seed's weight swap (``Evaluate``: other arms' final
weights to evaluate with this backend's forward pass), ``JobDone``. Messages travel on the worker's
own channel, never on its stdout (see ``paritybench.arms.protocol``).

Each (workload, arm) model is built and compiled once and reused: between cases
its weights are set from the initial arrays and the optimizer's state is reset.
The worker imports no JAX unless JAX is its backend: workloads are declared
without frameworks, and the model code it calls is the workload's Keras builder.
"""

from __future__ import annotations

import gc
import importlib
import inspect
import os
import time
from types import SimpleNamespace
from typing import Any

import numpy as np

from paritybench import watchdog, workloads
from paritybench.adapters import arms as adapter_arms
from paritybench.arms import keras_activations, keras_optimizers, protocol
from paritybench.arms.base import grad_norm_from_update, nonfinite_steps, weights_nonfinite
from paritybench.arms.keras_conventions import conventions_rows
from paritybench.arms.minibatch import batch_slices, epochs_needed, order_rows, shuffle_record
from paritybench.errors import ParityError
from paritybench.experiment import data, flags, heads
from paritybench.experiment.data import LABEL_WIDTH
from paritybench.experiment.weights import check_weights, copy_weights, load_weights_npz, save_weights_npz
from paritybench.workloads import resolve_ref
from paritybench.workloads.base import Workload


def check_model(keras, model, workload, arm) -> None:
    """The built Keras model against the workload's declaration, before it trains: its last layer carries the
    declared head's activation (the loss receives that activation of the logits, and the diagnostics take it
    off to read the logits), and it gives one output row per label. ParityError (one line) if not."""
    head = workload.model.head
    last = model.layers[-1] if getattr(model, "layers", None) else None
    act = getattr(last, "activation", None)
    where = f"workload {workload.name}: arm {arm.name}: the Keras model's last layer"
    if act is not keras.activations.get(head):
        name = getattr(act, "__name__", None) or type(act).__name__
        raise ParityError(
            f"{where} {getattr(last, 'name', last)!r} has activation {name}, but the declared head is {head}: "
            f"give keras_build's last layer activation={head!r} (a Dense(..., activation={head!r}))"
        )
    width = LABEL_WIDTH.get(workload.data.labels)
    if width is None:  # the workload's own targets: their shape is checked against the JAX arms' forward pass
        return
    try:
        shape = model.output_shape
    except Exception:  # a subclassed model not built yet has none; the training's own checks remain
        shape = None
    if isinstance(shape, tuple) and tuple(shape[1:]) != (width,):
        raise ParityError(
            f"{where} gives output shape {shape}, but the labels have shape (n, {width}) "
            f"({workload.data.labels}, head {head}): make it one output row of {width} per sample"
        )


def check_targets(model, y, workload, arm) -> None:
    """A workload's own targets (labels ``given``) against the built Keras model's output shape, once the data
    is windowed: Keras's losses broadcast an output of (n, 2) against targets of (n, 1) without a word. Only a
    trailing axis of 1 may differ (Keras's losses reconcile (n, 1) with (n,): ``squeeze_or_expand_to_same_rank``;
    measured: the same final weights either way)."""
    try:
        shape = model.output_shape
    except Exception:  # a subclassed model not built yet has none; the training's own checks remain
        return
    if not isinstance(shape, tuple):
        return
    head = workload.model.head
    if head != "linear":  # a classifier: the rules the diagnostics count by (``heads.problem``)
        if (why := heads.problem(head, (y.shape[0], *shape[1:]), tuple(y.shape), y.dtype, heads.top_id(y))) is not None:
            raise ParityError(
                f"workload {workload.name}: arm {arm.name}: the Keras model gives output shape {shape} and the "
                f"targets have shape {tuple(y.shape)}: {why}"
            )
        return
    out, want = tuple(shape[1:]), tuple(y.shape[1:])

    def squeezed(s: tuple) -> tuple:
        return s[:-1] if s and s[-1] == 1 else s

    if out != want and squeezed(out) != squeezed(want):
        raise ParityError(
            f"workload {workload.name}: arm {arm.name}: the Keras model gives output shape {shape}, but the targets "
            f"have shape {tuple(y.shape)}: make it one output of shape {want} per sample"
        )


# The epoch iterator each backend's fit builds (keras/src/backend/<backend>/trainer.py, fit)
_EPOCH_ITERATORS = {
    "jax": ("keras.src.backend.jax.trainer", "JAXEpochIterator"),
    "tensorflow": ("keras.src.backend.tensorflow.trainer", "TFEpochIterator"),
    "torch": ("keras.src.backend.torch.trainer", "TorchEpochIterator"),
}
FIT_ORDER_DRAWN_BY = "the backend's fit epoch iterator over the sample indices (arms.keras_worker.fit_order)"


def fit_order(keras, backend: str, seed: int, n: int, batch_size: int, steps: int) -> list[np.ndarray]:
    """Step k's rows in ``fit(x, y, batch_size, epochs, shuffle=True)`` of a freshly compiled model after
    ``keras.utils.set_random_seed(seed)``, drawn by the epoch iterator ``fit`` builds on this backend (its array
    adapter: ``np.random.permutation`` on JAX, ``tf.random.shuffle`` in a ``tf.data`` map on TensorFlow, a
    ``RandomSampler``'s ``torch.randperm`` on torch; ``keras/src/trainers/data_adapters/array_data_adapter.py``)
    over the indices 0..n-1. As ``fit``, it first starts one iterator and takes a batch (``Trainer._symbolic_build``
    on a compiled model whose loss and metrics are not built yet, ``keras/src/trainers/trainer.py``), then resets
    and starts one per epoch. Measured: training batch by batch in this order ends on the same weights, bit for
    bit, as ``fit(shuffle=True)`` itself, on all three backends (``tools/fit_order_check.py``)."""
    module, name = _EPOCH_ITERATORS[backend]
    iterator_class = getattr(importlib.import_module(module), name)
    kw = {}
    if backend == "tensorflow":
        import tensorflow as tf  # late: a framework: this is the TensorFlow backend's worker, already loaded

        kw["distribute_strategy"] = tf.distribute.get_strategy()
    with flags.keras_without_tensorflow():
        keras.utils.set_random_seed(seed)
    it = iterator_class(x=np.arange(n, dtype=np.int64).reshape(n, 1), batch_size=batch_size, shuffle=True, **kw)

    def first(batch):
        batch = batch[0] if isinstance(batch, tuple | list) else batch
        return np.ravel(np.asarray(keras.ops.convert_to_numpy(batch)))

    for _, _, data_or_iterator in it:  # the symbolic build's batch
        data_or_iterator if isinstance(data_or_iterator, tuple | list) else next(data_or_iterator)
        break
    it.reset()
    orders = []
    for _ in range(epochs_needed(n, batch_size, steps)):
        epoch = []
        for _, _, data_or_iterator in it:
            b = data_or_iterator if isinstance(data_or_iterator, tuple | list) else next(data_or_iterator)
            epoch.append(first(b))
        orders.append(np.concatenate(epoch))
    return order_rows(orders, batch_size, steps)


def _edit_where(arm, e) -> str:
    return f"arm {arm.name}: keras edit {e.text()}"


def edit_layers(keras, model, variables: dict, arm) -> tuple[Any, dict]:
    """``arm.keras_edits``' layer edits on the built ``model``: ``keras.models.clone_model`` with every layer rebuilt
    from its config (``keras/src/models/cloning.py``: the default ``clone_function`` is
    ``layer.__class__.from_config(layer.get_config())``), the edited keys changed in the layers they name, then every
    weight of the original assigned to the clone's variable at the same place of ``model.weights`` (an order the
    clone keeps: the same layers in the same order, each building its variables as before). ``variables``
    (name -> variable of ``model``) is mapped to the clone's variables at the same place.
    ParityError (one line) where an edit changes no layer, or the model cannot be cloned (a subclassed model)."""
    edits = [e for e in arm.keras_edits if e.part == "layer"]
    if not edits:
        return model, variables
    hit = {i: 0 for i in range(len(edits))}

    def takes(e, layer, cfg) -> bool:
        if e.cls not in (type(layer).__name__, "Layer") or e.key not in cfg:
            return False
        if e.key == "activation" and e.only in keras_activations.FORMS:  # what it computes, not what it reads
            return keras_activations.form(keras, getattr(layer, "activation", None)) == e.only
        v = cfg[e.key]
        if e.key == "dtype" and isinstance(v, dict):  # a DTypePolicy's config: its name (bfloat16, mixed_bfloat16)
            v = (v.get("config") or {}).get("name", v.get("class_name"))
        return e.only is None or v == e.only

    def clone(layer):
        cfg = layer.get_config()
        edited = set()
        for i, e in enumerate(edits):
            if takes(e, layer, cfg):
                named = e.key == "activation" and e.value in keras_activations.NAMES
                cfg[e.key] = keras_activations.config(keras, e.value) if named else e.value
                hit[i] += 1
                edited.add(e.key)
        # an activation not edited keeps its function: its config may not rebuild it (keras.ops.gelu, the tanh
        # form, serializes as "gelu", the exact one; a lambda as bytecode that safe_mode refuses)
        keep = "activation" in cfg and "activation" not in edited and "activation" in vars(layer)
        if keep:
            cfg["activation"] = "linear"
        new = layer.__class__.from_config(cfg)
        if keep:
            new.activation = layer.activation
        return new

    try:
        cloned = keras.models.clone_model(model, clone_function=clone)
    except Exception as exc:
        raise ParityError(
            f"{_edit_where(arm, edits[0])}: keras.models.clone_model cannot rebuild this model "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): only a Sequential or "
            "functional model's layers can be edited"
        ) from None
    for i, n in hit.items():
        if not n:
            e = edits[i]
            only = f" whose {e.key} is {e.only!r}" if e.only is not None else f" with the setting {e.key!r}"
            raise ParityError(f"{_edit_where(arm, e)}: the Keras model has no {e.cls} layer{only}")
    old = list(model.weights)
    new = list(cloned.weights)
    if [tuple(v.shape) for v in old] != [tuple(v.shape) for v in new]:
        raise ParityError(f"{_edit_where(arm, edits[0])}: the cloned model's variables differ from the model's")
    for a, b in zip(old, new, strict=True):
        b.assign(a.value)
    place = {id(v): i for i, v in enumerate(old)}
    missing = [k for k, v in variables.items() if id(v) not in place]
    if missing:
        raise ParityError(
            f"{_edit_where(arm, edits[0])}: keras_build's variables {missing} are not the model's weights"
        )
    return cloned, {k: new[place[id(v)]] for k, v in variables.items()}


def edit_config(obj, part: str, arm):
    """``obj`` (the arm's optimizer or loss) rebuilt by its class's ``from_config`` with ``arm.keras_edits``'
    edits of ``part`` (a loss given as a function: ``_edited_function``); ``obj`` itself where there are none.
    ParityError where an edit names another class, or a key its config does not have, or ``obj`` has no config."""
    edits = [e for e in arm.keras_edits if e.part == part]
    if not edits:
        return obj
    if part == "loss" and not hasattr(obj, "get_config") and callable(obj):
        return _edited_function(obj, edits, arm)
    if not hasattr(obj, "get_config") or not hasattr(type(obj), "from_config"):
        where = "keras.optimizers" if part == "optimizer" else "keras.losses"
        raise ParityError(
            f"{_edit_where(arm, edits[0])}: the {part} is {getattr(obj, '__name__', type(obj).__name__)}, "
            f"not a Keras {part} object with a config: give keras_{part} as a {where} class instance"
        )
    cfg = obj.get_config()
    settings: dict[str, Any] = {}
    for e in edits:
        if e.cls is not None and type(obj).__name__ != e.cls:
            raise ParityError(f"{_edit_where(arm, e)}: the {part} is {type(obj).__name__}, not {e.cls}")
        if part == "optimizer" and e.key in keras_optimizers.SUBCLASSES:
            # no Keras setting: a subclass whose update_step takes it (arms.keras_optimizers)
            s = keras_optimizers.SUBCLASSES[e.key]
            if s.cls is not None and (type(obj).__name__ != s.cls or cfg.get("amsgrad")):
                raise ParityError(f"{_edit_where(arm, e)}: only a keras.optimizers.{s.cls} (no amsgrad) takes it")
            if (why := s.problem(e.value)) is not None:
                raise ParityError(f"{_edit_where(arm, e)}: {why}")
            settings[e.key] = e.value
            continue
        if e.key not in cfg:
            raise ParityError(
                f"{_edit_where(arm, e)}: {type(obj).__name__}'s config has no {e.key!r} "
                f"(it has {', '.join(sorted(cfg))})"
            )
        cfg[e.key] = e.value
    if settings:
        import keras  # late: a framework: this Keras worker loaded it already, with its backend

        return keras_optimizers.rebuilt(keras, type(obj).from_config(cfg), settings)
    return type(obj).from_config(cfg)


def _edited_function(fn, edits, arm):
    """A loss given as a function (``keras.losses.binary_crossentropy``): called with the edits as its keywords
    (a keyword its signature does not take: ParityError), under its own name. A ``reduction`` edit wraps it as
    ``compile`` wraps a loss function (``keras.losses.LossFunctionWrapper``, ``keras/src/trainers/compile_utils.py``
    ``get_loss``: reduction ``"sum_over_batch_size"`` there), with the edit's reduction and the other edits as its
    keywords."""
    reduction = [e for e in edits if e.key == "reduction"]
    if reduction:
        # the class compile wraps a loss function in (Keras exports no public name for it)
        from keras.src.losses import LossFunctionWrapper  # late: a framework: this Keras worker loaded it already

        kw = {e.key: e.value for e in edits if e.key != "reduction"}
        plain = _edited_function(fn, [e for e in edits if e.key != "reduction"], arm) if kw else fn
        return LossFunctionWrapper(plain, reduction=reduction[-1].value, name=getattr(fn, "__name__", "loss"))
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        raise ParityError(f"{_edit_where(arm, edits[0])}: the loss function's signature cannot be read") from None
    params = sig.parameters
    for e in edits:
        if e.key not in params:
            raise ParityError(
                f"{_edit_where(arm, e)}: the loss function {getattr(fn, '__name__', fn)} takes no {e.key!r} "
                f"(it takes {', '.join(params)})"
            )
    kw = {e.key: e.value for e in edits}

    def edited(y_true, y_pred):
        return fn(y_true, y_pred, **kw)

    edited.__name__ = edited.__qualname__ = getattr(fn, "__name__", "loss")
    # its settings, as conventions reads a loss function's (its keyword defaults): the edited ones
    edited.__signature__ = sig.replace(  # type: ignore[attr-defined]
        parameters=[p.replace(default=kw[p.name]) if p.name in kw else p for p in sig.parameters.values()]
    )
    return edited


class KerasArm:
    """One workload's Keras model compiled with one arm's loss and optimizer, on this backend."""

    def __init__(self, keras, backend: str, workload, arm, lr: float):
        self.keras, self.workload, self.arm, self.lr, self.backend = keras, workload, arm, lr, backend
        self.head = workload.model.head
        self.model, self.variables = resolve_ref(workload.model.keras_build)(keras, **dict(arm.keras_options))
        # A model keras_build compiled keeps its compiled optimizer (its own learning rate) unless the arm names
        # one: before, such an arm silently trained with SGD at the workload's lr instead of the compiled Adam.
        # Read before the layer edits: a cloned model is not compiled.
        compiled = getattr(self.model, "optimizer", None) if getattr(self.model, "compiled", False) else None
        self.model, self.variables = edit_layers(keras, self.model, self.variables, arm)
        check_model(keras, self.model, workload, arm)
        # Model.state (moving statistics): read back after every step, reset to its initial values per case
        self.state_vars = {k: self.variables.pop(k) for k in workload.model.state}
        loss = self.loss = edit_config(resolve_ref(arm.keras_loss)(keras), "loss", arm)
        # a loss edit that takes the loss from the logits (explain's "loss from logits" on a Keras arm): the head's
        # activation moves from the model's last layer into the loss, as a Keras user writes it (a linear last layer,
        # from_logits=True); every probability the worker reads is then the head's activation of the model's output
        self.takes_logits = any(
            e.part == "loss" and e.key == "from_logits" and e.value is True for e in arm.keras_edits
        )
        if self.takes_logits:
            self.model.layers[-1].activation = keras.activations.linear
        if arm.keras_optimizer:
            optimizer = resolve_ref(arm.keras_optimizer)(keras, lr)
        elif compiled is not None:
            optimizer = compiled
        else:
            optimizer = keras.optimizers.SGD(learning_rate=lr)
        edited = optimizer
        optimizer = edit_config(optimizer, "optimizer", arm)
        self.plain_sgd = arm.keras_optimizer is None and compiled is None and optimizer is edited
        # The accuracy metric thresholds as the seed's evaluation did; as a metric it is
        # computed from the training step's own forward pass.
        # A linear head has no classes: no accuracy metric (its ``correct`` curve is a placeholder the runner
        # leaves out, ``heads.ABSENT``).
        self.classes = heads.metric(self.head) == "accuracy"
        # sigmoid: BinaryAccuracy, one match per label, the mean over each sample's labels then over the samples
        # (its MeanMetricWrapper) -- for (n, k) labels of equal width the mean over all labels, as
        # ``heads.correct_mask`` counts them. softmax: Keras's own "accuracy", which picks
        # SparseCategoricalAccuracy when the targets have one axis fewer than the outputs (class ids) and
        # CategoricalAccuracy otherwise (``compile_utils.get_metric``, ``is_binary_or_sparse_categorical``;
        # never binary, the outputs have k >= 2 columns), named "accuracy" as before; over all positions.
        metrics: list = []
        if self.head == "sigmoid":  # on logits: z > 0 where sigmoid(z) > 0.5
            metrics = [keras.metrics.BinaryAccuracy(name="accuracy", threshold=0.0 if self.takes_logits else 0.5)]
        elif self.head == "softmax":
            metrics = ["accuracy"]
        self.model.compile(optimizer=optimizer, loss=loss, metrics=metrics)
        self.activation = keras.activations.get(self.head)

        self.backend_module = importlib.import_module(f"paritybench.frameworks.{backend}")
        self.probe = self.backend_module.probe(keras, self.head_logits(training=False), self.per_sample_loss)

    def head_logits(self, training: bool = False):
        """``x -> logits``: the model with its last layer's activation taken off, in inference mode or in
        training mode (BatchNormalization on the batch's own statistics, moving them). The head's
        activation of these logits is what the loss receives in fit (on TensorFlow it carries them as
        _keras_logits)."""
        keras, model = self.keras, self.model
        last = model.layers[-1]

        def logits(x):
            act = last.activation
            last.activation = keras.activations.linear
            try:
                return model(x, training=training)
            finally:
                last.activation = act

        return logits

    def per_sample_loss(self, y, z):
        """The arm's Keras loss of the head's activation of logits ``z``, per sample: a ``keras.losses.Loss`` called
        with no reduction (a copy with ``reduction=None``: ``keras/src/losses/loss.py`` ``reduce_values`` returns
        the values; before, its ``sum_over_batch_size`` mean made every d loss/d logit ``n`` times too small)."""
        loss = self.loss
        z = z if self.takes_logits else self.activation(z)
        if not isinstance(loss, self.keras.losses.Loss) or loss.reduction in (None, "none"):
            return loss(y, z)
        # its reduction set to None for this call and given back (a copy would go through Keras's pickling, which
        # refuses a Loss subclass that is not registered as serializable, as loss-reduction's is not)
        saved, loss.reduction = loss.reduction, None
        try:
            return loss(y, z)
        finally:
            loss.reduction = saved

    def probabilities(self, out):
        """The head's activation of the model's output: the output itself, unless the loss takes the logits."""
        return self.activation(out) if self.takes_logits else out

    def set_weights(self, w) -> None:
        check_weights(w, self.workload.model.params, "weights for Keras")
        for name, var in self.variables.items():
            if tuple(var.shape) != w[name].shape:
                raise ValueError(
                    f"Keras variable {var.path} has shape {tuple(var.shape)}, weights {name} have {w[name].shape}"
                )
            # a fresh copy: the JAX backend may delete the buffer it is handed
            var.assign(np.array(w[name], dtype=np.float32, copy=True))

    def get_weights(self):
        # a 16-bit variable (a layer under the bfloat16 or float16 policy) in float32, exactly: the harness's arrays
        # are float32 (a bfloat16 array is ml_dtypes' type, which the other arms' float casts do not take)
        return {
            name: np.array(self.keras.ops.convert_to_numpy(var.value), dtype=np.float32, copy=True)
            for name, var in self.variables.items()
        }

    def reset_optimizer(self) -> None:
        """Zero the step counter and any optimizer state (Adam's moments), keep the learning rate."""
        opt = self.model.optimizer
        lr_var = getattr(opt, "_learning_rate", None)
        for v in opt.variables:
            if v is lr_var:
                continue
            v.assign(self.keras.ops.zeros(v.shape, dtype=v.dtype))

    def correct(self, x, y) -> int:
        """Correct predictions of the model's forward pass on ``x``, one batch. ``predict_on_batch`` calls the
        same ``predict_function`` that ``predict(x, batch_size=len(x))`` calls on its one batch, without the
        epoch iterator ``predict`` builds first (on TensorFlow a ``tf.data`` pipeline: 95% of ``predict``'s time
        in the weight swap of ``run --workload all``, profiled; ``keras/src/backend/*/trainer.py``)."""
        p = self.keras.ops.convert_to_numpy(self.probabilities(self.model.predict_on_batch(x)))
        return int(np.sum(heads.correct_mask(np, self.head, p, y)))

    def diagnose(self, x, y, curves) -> None:
        z, dz = self.probe(x, y)
        p = self.keras.ops.convert_to_numpy(self.activation(z))
        z, dz = (self.keras.ops.convert_to_numpy(v) for v in (z, dz))
        m = heads.measure(np, self.head, z, dz, y, p=p)
        for k in heads.PER_STEP:
            curves[k].append(float(m[k]))

    def get_state(self) -> dict:
        return {
            name: np.array(self.keras.ops.convert_to_numpy(var.value), copy=True)
            for name, var in self.state_vars.items()
        }

    def set_state(self, state: dict) -> None:
        for name, var in self.state_vars.items():
            var.assign(np.array(state[name], dtype=np.float32, copy=True))

    def train_case_minibatch(
        self, x, y, init, steps: int, keep_trajectory: bool, batch_size: int | None, eval_data
    ) -> tuple[dict, dict, list | None, dict, dict]:
        """``paritybench.arms.minibatch``'s protocol in Keras: ``fit`` on batch k mod (n / batch_size) per step
        (shuffle=False), the moving statistics read from the layer's variables after each step, and at every
        step the training window in training mode (its own batch statistics; the moving ones restored after)
        and the held-out window in evaluation mode (``evaluate``: the moving statistics)."""
        n = x.shape[0]
        bs = batch_size or n
        self.set_weights(init)
        self.set_state(self.workload.model.initial_state())
        self.reset_optimizer()
        curves: dict[str, list] = {k: [] for k in ("loss", "correct", "grad_norm", "eval_loss", "eval_accuracy")}
        states: dict[str, list] = {k: [] for k in self.state_vars}
        finite_flags = []
        loss_fn = self.loss

        def measure(w):
            saved = self.get_state()
            p = self.model(x, training=True)  # the window's own statistics; this call moves the averages
            self.set_state(saved)
            curves["loss"].append(float(np.mean(self.keras.ops.convert_to_numpy(loss_fn(y, p)))))
            p = self.keras.ops.convert_to_numpy(self.probabilities(p))
            curves["correct"].append(int(np.sum(heads.correct_mask(np, self.head, p, y))))
            if eval_data is not None:
                ex, ey = eval_data
                args, kwargs = self._batches(ex, ey, ex.shape[0])
                ev = self.model.evaluate(*args, verbose=0, return_dict=True, **kwargs)
                curves["eval_loss"].append(float(ev["loss"]))
                curves["eval_accuracy"].append(float(ev["accuracy"]) if self.classes else 0.0)
            for k, v in saved.items():
                states[k].append([float(u) for u in np.ravel(v)])
            finite_flags.append(not weights_nonfinite(w))

        before = self.get_weights()
        traj = [before] if keep_trajectory else None
        train_seconds = 0.0
        seed = self.arm.shuffle_seed
        order: list
        if seed is None:
            order = batch_slices(n, bs, steps)
        else:
            order = fit_order(self.keras, self.backend, seed, n, bs, steps)
        for rows in order:
            measure(before)
            _, before, seconds = self.fit_step(x[rows], y[rows], bs, before, curves, traj)
            train_seconds += seconds
        measure(before)
        curves["nonfinite"] = nonfinite_steps(finite_flags, curves["loss"])
        scored = heads.scored(self.head, y.shape, y.dtype)  # labels or positions (n for one per sample)
        curves["accuracy"] = [c / scored for c in curves["correct"]]
        if eval_data is None:
            del curves["eval_loss"], curves["eval_accuracy"]
        else:  # evaluate's accuracy is a float share; make it the exact count / the holdout's scored elements
            m = heads.scored(self.head, eval_data[1].shape, eval_data[1].dtype)
            curves["eval_accuracy"] = [round(a * m) / m for a in curves["eval_accuracy"]]
        for k, vs in states.items():
            curves[f"state_mean_abs/{k}"] = [float(np.mean(np.abs(v))) for v in vs]
        info = {
            "grad_norm_source": "update/lr" if self.plain_sgd else "unavailable (optimizer is not plain SGD)",
            "train_seconds": train_seconds,
            "batch_size": bs,
        }
        if seed is not None:
            info["shuffle"] = shuffle_record(seed, FIT_ORDER_DRAWN_BY, order)
        return curves, before, traj, info, states

    def _batches(self, x, y, bs: int, **array_kwargs) -> tuple[tuple, dict]:
        """``fit``'s or ``evaluate``'s data: ``x`` in batches of ``bs``, in order. On TensorFlow, where that is one
        batch of float32 samples, the batch as a one-element ``tf.data.Dataset`` (``from_tensors``): the same
        tensors reach the same ``train_function`` / ``test_function``, without the pipeline Keras otherwise builds
        from arrays at every call (``ArrayDataAdapter.get_tf_dataset``: index batches, ``flat_map`` and a traced
        slicing ``map``), a third of the keras-tensorflow worker's time in ``run --workload all``, the worker the
        catalogue waits on (py-spy); every artifact of the catalogue bit-identical but timing, 20 of 20. Otherwise
        the arrays, as a user passes them, with ``array_kwargs``. Returns (positional, keyword) arguments."""
        single = (
            len(x) == bs and x.dtype == np.float32 and (y.dtype == np.float32 or np.issubdtype(y.dtype, np.integer))
        )
        if self.backend == "tensorflow" and single:
            import tensorflow as tf  # late: a framework: loaded by this TensorFlow worker's Keras already

            return (tf.data.Dataset.from_tensors((x, y)),), {}
        return (x, y), {"batch_size": bs, **array_kwargs}

    def fit_step(self, x, y, bs: int, before: dict, curves: dict, traj: list | None) -> tuple[Any, dict, float]:
        """One ``fit`` epoch over ``x`` in batches of ``bs`` from weights ``before``: appends the update's
        gradient norm to ``curves`` (plain SGD: ||w_k+1 - w_k|| / lr is the gradient's norm; other optimizers
        hide it) and the new weights to ``traj``; returns fit's history, the new weights and fit's seconds."""
        t = time.perf_counter()
        if self.arm.keras_step == "train_on_batch":  # the user's own loop: one call, the logs of that step
            logs = self.model.train_on_batch(x, y, return_dict=True)
            hist = SimpleNamespace(history={k: [float(v)] for k, v in logs.items()})
        else:
            args, kwargs = self._batches(x, y, bs, shuffle=False)
            hist = self.model.fit(*args, epochs=1, verbose=0, **kwargs)
        seconds = time.perf_counter() - t
        after = self.get_weights()
        curves["grad_norm"].append(grad_norm_from_update(before, after, self.lr) if self.plain_sgd else float("nan"))
        if traj is not None:
            traj.append(after)
        return hist, after, seconds

    def train_case(self, x, y, init, steps: int, keep_trajectory: bool) -> tuple[dict, dict, list | None, dict]:

        n = x.shape[0]
        # fit's accuracy is a float share of the scored elements (samples, labels or positions): back to a count
        scored = heads.scored(self.head, y.shape, y.dtype)
        self.set_weights(init)
        self.reset_optimizer()
        curves: dict[str, list] = {k: [] for k in ("loss", "correct", "grad_norm", *heads.PER_STEP)}
        finite_flags = []
        before = self.get_weights()
        traj = [before] if keep_trajectory else None
        train_seconds = 0.0
        for _ in range(steps):
            if keep_trajectory:
                self.diagnose(x, y, curves)
            finite_flags.append(not weights_nonfinite(before))
            hist, before, seconds = self.fit_step(x, y, n, before, curves, traj)
            train_seconds += seconds
            # fit reports loss and accuracy at the weights *before* its update,
            # from the forward pass the update itself used: no extra pass needed
            curves["loss"].append(float(hist.history["loss"][0]))
            curves["correct"].append(round(float(hist.history["accuracy"][0]) * scored) if self.classes else 0)
        if keep_trajectory:
            self.diagnose(x, y, curves)
        finite_flags.append(not weights_nonfinite(before))
        args, kwargs = self._batches(x, y, n)
        last = self.model.evaluate(*args, verbose=0, return_dict=True, **kwargs)
        curves["loss"].append(float(last["loss"]))
        curves["correct"].append(round(float(last["accuracy"]) * scored) if self.classes else 0)
        curves["nonfinite"] = nonfinite_steps(finite_flags, curves["loss"])
        curves["accuracy"] = [c / scored for c in curves["correct"]]
        if not keep_trajectory:  # per-step diagnostics cost a forward pass each: full mode only
            for k in heads.PER_STEP:
                del curves[k]
        info = {
            "grad_norm_source": "update/lr" if self.plain_sgd else "unavailable (optimizer is not plain SGD)",
            "train_seconds": train_seconds,
        }
        return curves, before, traj, info


class _Backend:
    """What one worker process keeps across jobs: its backend, Keras, the numerics it was started
    with, and the data sets it has loaded (a serving worker runs one job per workload)."""

    def __init__(self, backend: str, numerics: dict):
        # The numerics flags and KERAS_BACKEND are in the environment already (protocol.worker_main).

        self.backend, self.numerics = backend, numerics
        self.opts = flags.NumericsOptions(**numerics)
        t0 = time.perf_counter()
        import keras  # late: a framework: loads after the numerics flags

        self.keras = keras
        self.import_seconds = time.perf_counter() - t0
        # What the imports made lives as long as the process: moved out of the collector's generations, the
        # gc.collect() of every later job's clear_session scans only what the jobs made (a serving worker's
        # clear_session took 0.6-1.4 s per workload and backend with it scanning the backend's 0.2-0.5 million
        # objects; 0.001-0.06 s frozen: measured with Keras 3, TensorFlow, torch and JAX on this machine).
        gc.freeze()
        if keras.backend.backend() != backend:
            raise RuntimeError(f"Keras loaded backend {keras.backend.backend()}, not {backend}")
        self.datasets: dict[tuple, object] = {}
        self.jobs = 0
        self.cleared = False  # clear_session ran since the last job (serve, between jobs)

    def dataset(self, path, sha256, workload):
        """The workload's data (MNIST from ``path``, or its own ``Data.source``: ``workloads.load_data``)."""
        key = (path, sha256, workload.data)
        if key not in self.datasets:
            self.datasets[key] = workloads.load_data(workload, path, sha256)
        return self.datasets[key]


def load_workload(spec: str, sha256: str | None) -> Workload:
    """The workload ``spec`` as this worker loads it, refused (one line naming both hashes) unless its content
    is the ``sha256`` the run loaded: a file edited after the run began would otherwise train its Keras arms
    on other code than its other arms, under the run's recorded hash. None: the run recorded no hash."""
    w = workloads.load(spec)
    found = w.origin.get("sha256")
    if sha256 is not None and found != sha256:
        raise ParityError(
            f"workload {w.name} ({spec}) changed after the run began: the run loaded sha256 {sha256}, this "
            f"Keras worker reads {found}: restore the workload's files, or run again"
        )
    return w


def run_job(job: protocol.TrainJob, be: _Backend, channel: protocol.Channel, serving: bool) -> int:
    """One job (one workload's Keras arms on this backend): train, report each case, take the weight swap
    (``Evaluate``) from the channel, report ``JobDone``. Returns 0, or 4 when the channel closed before the
    swap came (the parent is gone)."""
    keras, backend = be.keras, be.backend
    step_timeout = watchdog.configure(job.step_timeout)  # the user's code under the run's limit
    if job.backend != backend or job.numerics != be.numerics:
        raise RuntimeError(
            f"job for {job.backend} with numerics {job.numerics} sent to the {backend} worker "
            f"started with {be.numerics}"
        )
    if be.jobs and not be.cleared:
        # A serving worker's next workload starts from the state a fresh worker starts from: no model,
        # layer name counter or seed generator of the last workload survives (clear_session drops Keras'
        # global state, the global seed with it), then the same seed as at start. ``serve`` clears as soon
        # as a job is done, while the worker waits for the next one; here only if it did not.
        keras.utils.clear_session()
    be.jobs += 1
    be.cleared = False
    readback = flags.read_back(backend, be.opts, keras=True)
    with flags.keras_without_tensorflow():
        keras.utils.set_random_seed(0)
    out_dir = job.out_dir
    keep_trajectory = job.keep_trajectory
    env = {
        "backend": backend,
        "keras": keras.__version__,
        # a serving worker imported its backend once, for its first job: later jobs report 0
        "import_seconds": be.import_seconds if be.jobs == 1 else 0.0,
        "numerics": readback,
    }
    if serving:
        env["worker_job"] = be.jobs  # 1 for a fresh worker; k: the k-th workload this process served
    windows: dict[tuple, tuple] = {}

    def window(workload, start, n, normalize):
        key = (workload.data, start, n, normalize)
        if key not in windows:
            ds = be.dataset(job.data_path, job.data_sha256, workload)
            windows[key] = data.window(ds, start, n, normalize, labels=workload.data.labels)
        return windows[key]

    built: dict[tuple[str, str], KerasArm] = {}

    def arm_model(spec: str, arm_name: str, lr: float, sha256: str | None) -> KerasArm:
        if (spec, arm_name) not in built:
            w = load_workload(spec, sha256)  # its import is under the limit (workloads.registry)
            with watchdog.limit(step_timeout, f"building Keras arm {arm_name} (keras_build and compile)"):
                built[(spec, arm_name)] = KerasArm(keras, backend, w, w.arm(arm_name), lr)
            env["jit_compile"] = str(getattr(built[(spec, arm_name)].model, "jit_compile", None))
            if (wmap := adapter_arms.keras_weight_map(built[(spec, arm_name)].model)) is not None:
                env.setdefault("weight_maps", {})[arm_name] = wmap.to_json()  # an adapter arm's (adapters.arms)
            # the arm's effective settings, read from the built model and optimizer (paritybench conventions)
            env.setdefault("conventions", {})[arm_name] = conventions_rows(built[(spec, arm_name)], backend, readback)
        return built[(spec, arm_name)]

    for task in job.tasks:
        ka = arm_model(task.workload, task.arm, task.lr, task.workload_sha256)
        shapes = ka.workload.model.params
        for case in task.cases:
            cid = case.id
            t_case = time.perf_counter()
            x, y = window(ka.workload, case.window, task.n, task.normalize)
            if ka.workload.data.labels not in LABEL_WIDTH:  # the workload's own targets: shape checked here
                check_targets(ka.model, y, ka.workload, ka.arm)
            init = copy_weights(load_weights_npz(case.init_file, shapes)["w"], shapes)
            d = ka.workload.data
            state = None
            # +1: the first step's compile and the last measurement
            with watchdog.limit(step_timeout * (task.steps + 1), f"arm {task.arm}'s training on {cid}"):
                if d.batch_size is not None or ka.workload.model.state:  # paritybench.arms.minibatch's protocol
                    held = window(ka.workload, case.window + task.n, d.holdout, task.normalize) if d.holdout else None
                    curves, final, traj, info, state = ka.train_case_minibatch(
                        x, y, init, task.steps, keep_trajectory, d.batch_size, held
                    )
                else:
                    curves, final, traj, info = ka.train_case(x, y, init, task.steps, keep_trajectory)
            stem = f"{task.arm}-{cid}"
            final_file = os.path.join(out_dir, f"final-{stem}.npz")
            save_weights_npz(final_file, {"w": final})
            info["case_seconds"] = time.perf_counter() - t_case
            traj_file = None
            if traj is not None:
                traj_file = os.path.join(out_dir, f"traj-{stem}.npz")
                save_weights_npz(traj_file, {f"k{i}": w for i, w in enumerate(traj)})
            channel.send(protocol.CaseDone(task.arm, cid, curves, info, final_file, traj_file, state or None))

    channel.send(protocol.Trained())
    # The runner sends the weight swap once every arm has trained (this worker trained in parallel).
    msg = channel.receive()
    if msg is None:  # the parent is gone
        return 4
    if not isinstance(msg, protocol.Evaluate):
        raise protocol.ProtocolError(f"expected {protocol.Evaluate.TYPE} after {protocol.Trained.TYPE}, got {msg.TYPE}")
    swap = []
    for item in msg.items:
        ka = arm_model(item.workload, item.evaluator, item.lr, item.workload_sha256)
        x, y = window(ka.workload, item.window, item.n, item.normalize)
        ka.set_weights(load_weights_npz(item.weights_file, ka.workload.model.params)["w"])
        swap.append(protocol.SwapResult(item.label, item.case, item.evaluator, ka.correct(x, y)))
    channel.send(protocol.JobDone(env, tuple(swap)))
    return 0


def serve(channel: protocol.Channel, backend: str, numerics: dict, serving: bool) -> int:
    """The worker's loop (started by ``protocol.worker_main``): ``TrainJob`` messages, one at a time. A worker
    started for one run does one job and exits; a serving one (``--serve``, ``run --workload all``) takes the
    next job until ``Stop`` or the end of its channel. Keras is imported once, at start, before the first job is
    read: ``runner.run`` starts its workers before its own start-up (data, initial weights, JAX), so their imports
    overlap it instead of starting after it."""
    be = _Backend(backend, numerics)
    while True:
        msg = channel.receive()
        if msg is None or isinstance(msg, protocol.Stop):
            return 0
        if not isinstance(msg, protocol.TrainJob):
            raise protocol.ProtocolError(f"a Keras training worker takes {protocol.TrainJob.TYPE}, not {msg.TYPE}")
        rc = run_job(msg, be, channel, serving)
        if rc or not serving:
            return rc
        # the next job's clear_session (run_job), done now: the parent is reading this job's results and
        # preparing the next workload, so it costs no time on the next job's way
        be.keras.utils.clear_session()
        be.cleared = True


if __name__ == "__main__":
    protocol.worker_main(serve)
