"""Looks inside Keras arms, in a worker process per backend (Keras fixes its backend at import).

Two job modes, both built on ``keras_worker.KerasArm`` (the same model, loss and optimizer ``run`` trains):

- ``conventions``: the arm's effective settings read from the built model and optimizer
  (``get_config()``) and the backend's numerics read-back, not declared by hand.
- ``localize``: one record per step of the arm's own trajectory from given initial weights (or, with
  ``weights_file``, at given weights: teacher forcing), each computed by the backend's own autodiff:
  logits, per-sample d loss / d logit (the probe ``run`` uses), the data loss, every parameter's gradient
  of the data loss (what the JAX arms' backward phase holds; the optimizer applies the gradient of the loss
  ``fit`` minimises, regularisers included), the optimizer's change to every parameter, the
  optimizer's variables after the step (Adam's moments as ``state/adam/mu|nu/<param>``, any other optimizer's
  as ``state/optimizer/<slot>/<param>``) and the named layers' outputs (``Model.keras_layers``).
  A minibatch workload's step k sees the parent's ``slices[k]`` of the window; a stateful one's (moving
  statistics) steps from the given state and also records the new state and the held-out inference logits.

The parent calls :func:`run_job`, which starts the worker as every Keras worker starts
(``arms.worker_process.start``) and talks to it in ``paritybench.arms.protocol``'s messages; this
module imports no framework at load time.
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from paritybench import procs, workloads
from paritybench.adapters import keras_params
from paritybench.arms import protocol, worker_process
from paritybench.arms.keras_conventions import conventions_rows
from paritybench.arms.keras_worker import KerasArm, fit_order
from paritybench.errors import ParityError
from paritybench.experiment import data, flags
from paritybench.experiment.weights import load_weights_npz
from paritybench.workloads.base import KerasEdit


def run_job(backend: str, job: protocol.ConventionsJob | protocol.LocalizeJob, numerics):
    """Run ``job`` in a fresh ``keras-<backend>`` worker (``arms.worker_process.start``) and return its result:
    ``ConventionsDone`` or ``LocalizeDone`` (ParityError naming the worker's error on failure)."""
    expect = protocol.ConventionsDone if isinstance(job, protocol.ConventionsJob) else protocol.LocalizeDone
    procs.clean_stale_tmp()  # folders a killed run could not remove
    # in a paritybench-<pid>- folder, so a later run removes it should this process be SIGKILLed first
    with tempfile.TemporaryDirectory(prefix=procs.tmp_prefix() + "inspect-") as tmp:
        wp = worker_process.start("keras_inspect", backend, numerics.to_dict(), Path(tmp), Path(tmp) / "worker.log")
        try:
            wp.send(job, close=True)
            result = next((m for m in wp.events(until=expect) if isinstance(m, expect)), None)
            rc = wp.wait()
            if rc != 0 or result is None:
                raise ParityError(wp.why(rc, f"keras-{backend} inspection worker"))
        finally:
            wp.stop()
        return result


# Adam's slot names (keras/src/optimizers/adam.py build: add_optimizer_variables(var_list, ["momentum",
# "velocity"])) -> the names the other arms' moments have (adam/mu, adam/nu)
_ADAM_SLOTS = {"momentum": "mu", "velocity": "nu"}


def optimizer_slots(opt, tv, order: list[str]) -> dict[str, dict]:
    """param -> {slot: value}: every per-parameter variable the Keras optimizer actually keeps (none for SGD
    without momentum; RMSprop's "velocity", and "momentum" only with momentum; Adam's "momentum" and
    "velocity", and "velocity_hat" with amsgrad). A slot is found by its name:
    keras/src/optimizers/base_optimizer.py add_variable_from_reference names it
    ``f"{reference_variable.path.replace('/', '_')}_{name}"``; the longest matching parameter prefix wins."""
    prefixes = {v.path.replace("/", "_") + "_": p for p, v in zip(order, tv, strict=True)}
    out: dict[str, dict] = {p: {} for p in order}
    for var in opt.variables:
        name = var.name
        hits = [pre for pre in prefixes if name.startswith(pre)]
        if hits:
            pre = max(hits, key=len)
            out[prefixes[pre]][name[len(pre) :]] = var.value
    return out


def _grad_fn(ka, backend: str):
    """``(x, y) -> (data loss, total loss, [grads], [data grads])`` (trainable order), by the backend's autodiff.

    ``grads`` is the gradient of the loss ``fit`` minimises, ``model.compute_loss`` (compiled loss plus
    regularisation losses), which the optimizer applies; ``data grads`` that of the data loss alone (the same
    list without a regulariser); the data loss is the mean of the compiled loss function alone, comparable
    with a JAX arm's."""
    model = ka.model
    tv = model.trainable_variables
    # a regulariser (kernel_regularizer) puts its penalty in the loss fit minimises: the backward phase then
    # takes the data loss's gradient, as the JAX arms' (whose decay sits in the optimizer chain), and the
    # penalty shows in the update, where both conventions put it
    regularised = bool(model.losses)
    if backend == "tensorflow":
        import tensorflow as tf  # late: a framework: loads after the numerics flags

        @tf.function
        def run(x, y):
            with tf.GradientTape(persistent=True) as tape:
                pred = model(x, training=True)
                total = model.compute_loss(x=x, y=y, y_pred=pred)
                data = tf.reduce_mean(model.loss(y, pred))  # in the graph: TF's loss sees the cached logits
            grads = tape.gradient(total, tv)
            return data, total, grads, (tape.gradient(data, tv) if regularised else grads)

        return run
    if backend == "jax":
        import jax  # late: a framework: loads after the numerics flags

        def lossf(tvals, ntvals, mvals, ovals, x, y):
            # Keras's own JAX training step: keras/src/backend/jax/trainer.py compute_loss_and_updates
            total, _ = model.compute_loss_and_updates(
                tvals, ntvals, mvals, x, y, None, training=True, optimizer_variables=ovals
            )
            return total

        vg = jax.jit(jax.value_and_grad(lossf))

        def data_lossf(tvals, ntvals, x, y):
            pred, _ = model.stateless_call(tvals, ntvals, x, training=True)
            return ka.keras.ops.mean(model.loss(y, pred))

        dg = jax.jit(jax.grad(data_lossf))

        def run(x, y):
            tvals = [v.value for v in tv]
            ntvals = [v.value for v in model.non_trainable_variables]
            mvals = [v.value for v in model.metrics_variables]
            ovals = [v.value for v in model.optimizer.variables]
            total, grads = vg(tvals, ntvals, mvals, ovals, x, y)
            data = ka.keras.ops.mean(model.loss(y, model(x, training=True)))
            return data, total, grads, (dg(tvals, ntvals, x, y) if regularised else grads)

        return run
    import torch  # late: a framework: loads after the numerics flags

    def run(x, y):
        for v in tv:
            v.value.grad = None
        pred = model(torch.as_tensor(x), training=True)
        total = model.compute_loss(x=x, y=torch.as_tensor(y), y_pred=pred)
        data = torch.mean(model.loss(torch.as_tensor(y), pred))
        dgrads = None
        if regularised:
            dgrads = [g.detach().clone() for g in torch.autograd.grad(data, [v.value for v in tv], retain_graph=True)]
        total.backward()
        grads = [v.value.grad.detach().clone() for v in tv]
        return data.detach(), total.detach(), grads, dgrads if regularised else grads

    return run


class WeightedLayers:
    """``Model.keras_weighted_layers`` in a Keras worker: the output of each of a Keras model's layers with weights,
    in the model's layer order, by the layer's own name, as a torch forward hook on the same layer sees it
    (``adapters.keras_params.weighted_layers``): a layer with a fused activation gives its weighted part's output,
    the layer called on its own input with its activation off (restored after); any other layer its output."""

    def __init__(self, keras, model):
        self.keras = keras
        self.layers, self.sub = keras_params.weighted_layers(keras, model)

    def outputs(self, x, training: bool = False) -> dict:
        """{layer name: output} on ``x`` (``training``: the model's training mode, as ``fit``'s forward pass); a
        nested model's layers as ``outer/inner`` (``keras_params.layer_outputs``)."""

        def call(fn, value):
            return fn(value, training=training) if isinstance(fn, self.keras.Model) else fn(value)

        return keras_params.layer_outputs(self.layers, self.sub, x, call)


def _training_probe(ka):
    """``(x, y) -> (z, dz)`` as ``KerasArm.probe`` but with the model in training mode (what ``fit``'s loss
    sees); the call moves the moving statistics (callers restore them)."""
    return ka.backend_module.probe(ka.keras, ka.head_logits(training=True), ka.per_sample_loss)


def _state_step(ka, s_k: dict, x) -> dict:
    """The model state after one training step on batch ``x`` from state ``s_k``: one training-mode call of the
    model, whose BatchNormalization layers assign their moving statistics by their own rule
    (``keras/src/layers/normalization/batch_normalization.py`` call: ``moving * momentum + batch * (1 -
    momentum)``, biased batch variance), as in ``fit``'s train step. The weights are those of the step (the
    forward pass comes before the optimizer's update); the layer keeps the new state."""
    ka.set_state(s_k)
    ka.model(x, training=True)
    return ka.get_state()


def localize_records(
    ka,
    backend: str,
    x,
    y,
    init,
    steps: int,
    given: list | None,
    slices: list | None = None,
    xh=None,
    given_states: list | None = None,
) -> dict:
    """Per-step arrays (``k<step>/<what>[/<param>]``) along the arm's own trajectory, or at ``given`` weights.

    ``slices``: step k's rows of the window (``localize.Batches.slices``; None: the whole window). A stateful
    model (``Model.state``, BatchNormalization's moving statistics) is set to ``given_states[k]`` before step k
    (teacher forcing; without them its own state, from the declared initial values), and each step also
    records the state before it (``k<step>/model_state/<name>``), the state after it (``k<step>/state/<name>``:
    the layer's own moving-average rule applied once to the step's batch, as ``fit``'s training forward pass
    does) and, with ``xh``, the inference-mode logits on the held-out window at the step's weights with that
    new state (``k<step>/eval/holdout logits``)."""
    keras = ka.keras
    np_ = keras.ops.convert_to_numpy
    ka.set_weights(init if given is None else given[0])
    ka.reset_optimizer()
    stateful = bool(ka.state_vars)
    if stateful:
        ka.set_state(ka.workload.model.initial_state() if given_states is None else given_states[0])
        probe_train, infer = _training_probe(ka), ka.head_logits(training=False)
    names = {id(v): name for name, v in ka.variables.items()}
    tv = ka.model.trainable_variables
    order = [names[id(v)] for v in tv]
    grad = _grad_fn(ka, backend)
    opt = ka.model.optimizer
    # the optimizer's own variables after each step (optimizer_slots), built at its first apply; Adam's (and
    # AdamW's, a subclass) "momentum" and "velocity" are recorded as adam/mu and adam/nu: keras/src/optimizers/
    # adam.py update_step, m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2): uncorrected, as optax's mu/nu
    # Model.keras_layers: the named layers' outputs through a sub-model over the built model's layers, in the
    # model's own layer order (forward order, whatever order the mapping lists them in; np.savez keeps it)
    count = len(ka.model.layers)
    index = {n: i + count if i < 0 else i for n, i in ka.workload.model.keras_layers.items()}
    for n, i in index.items():
        if not 0 <= i < count:
            raise ParityError(
                f"model.keras_layers[{n!r}] is {ka.workload.model.keras_layers[n]}, but the Keras model has "
                f"{count} layers: give an index from 0 to {count - 1}"
            )
    lnames = sorted(index, key=index.__getitem__)
    sub = None
    if lnames:
        sub = keras.Model(ka.model.inputs, [ka.model.layers[index[n]].output for n in lnames])
    # Model.keras_weighted_layers (adapter workloads): every layer with weights, by its own name
    weighted = WeightedLayers(keras, ka.model) if ka.workload.model.keras_weighted_layers else None
    arrays: dict = {}
    full_x, full_y = x, y
    for k in range(steps + 1):
        if given is not None:
            ka.set_weights(given[k])
        if stateful and given_states is not None:
            ka.set_state(given_states[k])
        w = ka.get_weights()
        for p, v in w.items():
            arrays[f"k{k}/weights/{p}"] = v
        s_k = ka.get_state() if stateful else {}
        for p, v in s_k.items():
            arrays[f"k{k}/model_state/{p}"] = v
        if slices is not None:
            if k == steps:  # no batch k: the final weights (and state) only
                break
            x, y = full_x[slices[k]], full_y[slices[k]]
        if stateful:
            # training mode, as fit's step: the batch's own statistics (the call moves the averages: restored)
            z, dz = probe_train(x, y)
            ka.set_state(s_k)
        else:
            z, dz = ka.probe(x, y)
        arrays[f"k{k}/logits"] = np.asarray(np_(z), np.float32)
        arrays[f"k{k}/dz"] = np.asarray(np_(dz), np.float32)
        if k == steps:
            break
        if sub is not None:
            outs = sub(x, training=stateful)
            outs = outs if isinstance(outs, (list, tuple)) else [outs]
            for n, o in zip(lnames, outs, strict=True):
                arrays[f"k{k}/layer/{n}"] = np.asarray(np_(o), np.float32)
            if stateful:
                ka.set_state(s_k)
        if weighted is not None:
            for n, o in weighted.outputs(x, training=stateful).items():
                arrays[f"k{k}/layer/{n}"] = np.asarray(np_(o), np.float32)
            if stateful:
                ka.set_state(s_k)
        data_loss, _, grads, data_grads = grad(x, y)
        arrays[f"k{k}/loss"] = np.asarray(np_(data_loss), np.float64)
        for p, g in zip(order, data_grads, strict=True):
            arrays[f"k{k}/grad/{p}"] = np.asarray(np_(g), np.float32)
        if stateful:
            new_state = _state_step(ka, s_k, x)
            for p, v in new_state.items():
                arrays[f"k{k}/state/{p}"] = v
            if xh is not None:  # inference mode at w_k with the new moving statistics, before the update
                arrays[f"k{k}/eval/holdout logits"] = np.asarray(np_(infer(xh)), np.float32)
        ka.model.optimizer.apply(grads, tv)
        after = ka.get_weights()
        for p in w:
            arrays[f"k{k}/update/{p}"] = after[p] - w[p]
        adam = isinstance(opt, keras.optimizers.Adam)
        for p, slots in optimizer_slots(opt, tv, order).items():
            for slot, value in slots.items():
                key = f"adam/{_ADAM_SLOTS[slot]}" if adam and slot in _ADAM_SLOTS else f"optimizer/{slot}"
                arrays[f"k{k}/state/{key}/{p}"] = np.asarray(np_(value), np.float32)
    return arrays


def serve(channel: protocol.Channel, backend: str, numerics: dict, serving: bool) -> int:
    """The worker (started by ``protocol.worker_main``): one ``ConventionsJob`` or ``LocalizeJob``, answered."""
    job = channel.receive()
    if not isinstance(job, protocol.ConventionsJob | protocol.LocalizeJob):
        got = "the end of the channel" if job is None else job.TYPE
        raise protocol.ProtocolError(f"an inspection worker takes a conventions or localize job, not {got}")
    opts = flags.NumericsOptions(**numerics)
    import keras  # late: a framework: protocol.worker_main set the numerics flags before this

    readback = flags.read_back(backend, opts, keras=True)
    with flags.keras_without_tensorflow():
        keras.utils.set_random_seed(0)
    w = workloads.load(job.workload)
    arm = w.arm(job.arm)
    if isinstance(job, protocol.LocalizeJob):  # explain's switched arm: the declared arm with its edits
        arm = replace(arm, keras_edits=tuple(KerasEdit(e.part, e.cls, e.key, e.value, e.only) for e in job.edits))
    ka = KerasArm(keras, backend, w, arm, job.lr)
    if isinstance(job, protocol.ConventionsJob):
        channel.send(protocol.ConventionsDone(conventions_rows(ka, backend, readback)))
        return 0
    ds = workloads.load_data(w, job.data_path, job.data_sha256)
    x, y = data.window(ds, job.window, job.n, job.normalize, labels=w.data.labels)
    shapes = w.model.params
    init = load_weights_npz(job.init_file, shapes)["w"]
    given = given_states = None
    if job.weights_file:
        g = load_weights_npz(job.weights_file, shapes)
        given = [g[f"k{i}"] for i in range(job.steps + 1)]
    if job.states_file:
        g = load_weights_npz(job.states_file, w.model.state)
        given_states = [g[f"k{i}"] for i in range(job.steps + 1)]
    # step k's rows (localize.Batches.slices) and the held-out window, as the parent chose them
    slices: list | None = [slice(a, b) for a, b in job.slices] if job.slices is not None else None
    if slices is not None and ka.arm.shuffle_seed is not None:  # a shuffled arm: the order its fit draws
        slices = fit_order(keras, backend, ka.arm.shuffle_seed, x.shape[0], w.data.batch_size or x.shape[0], job.steps)
    xh = np.load(job.holdout_file) if job.holdout_file else None
    arrays = localize_records(ka, backend, x, y, init, job.steps, given, slices, xh, given_states)
    arrays_file = str(Path(job.out_dir) / "arrays.npz")
    np.savez(arrays_file, **arrays)
    channel.send(protocol.LocalizeDone(arrays_file))
    return 0


if __name__ == "__main__":
    protocol.worker_main(serve)
