"""Keras 3 on one backend (``KERAS_BACKEND``: tensorflow, jax or torch; one pytest
process per backend, since Keras fixes its backend at import).

Three ways to run one training step of the seed's model, from most to least
per-call machinery, so the report can split ``fit``'s overhead from the arithmetic:
- ``fit(x, y, batch_size=n, epochs=1, shuffle=False)``: exactly as the seed (and
  ``keras_worker``) calls it, one step per call: data adapter, callbacks, history;
- ``train_on_batch(x, y)``: no adapter, no callbacks;
- the backend's compiled train function, called on tensors already on the
  device: ``model.train_function`` as Keras builds it in ``make_train_function``
  (a ``tf.function`` on TensorFlow; on JAX the jitted ``train_step`` over the
  state, threaded from call to call as ``train_on_batch`` does; on torch the
  eager ``train_step``, or ``torch.compile``'d when ``jit_compile`` is on).
Before every round the weights go back to the seed's initial ones (untimed), so
every round times the seed's first step. The first call of ``fit`` (tracing and
compiling) is timed once on its own and kept apart.

Plus the backend's own float32 matmul pair (TensorFlow, torch; the JAX backend's
is XLA's, timed in ``test_jax.py``): what that framework's BLAS does at these shapes.
"""

from __future__ import annotations

import importlib.util
import os

import benchutil
import numpy as np
import pytest

from paritybench.timing.flops import matmul_flops

BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
_MODULE = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(BACKEND)
if _MODULE is None:
    pytest.exit(f"KERAS_BACKEND={BACKEND!r}: the timing suites know tensorflow, jax and torch", returncode=4)
if importlib.util.find_spec(_MODULE) is None:
    _FIX = ' (make setup EXTRAS="--extra cpu --extra torch")' if _MODULE == "torch" else " (make setup)"
    pytest.skip(f"keras-{BACKEND}: {_MODULE} is not installed{_FIX}", allow_module_level=True)

import keras  # noqa: E402  (after the flags that conftest set, and after the backend check)

SUITE = f"keras-{BACKEND}"


def _sync() -> None:
    """Wait for the backend's device work (eager ops on CPU are synchronous already)."""
    if BACKEND == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            tf.test.experimental.sync_devices()
    elif BACKEND == "torch":
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()


def _on_device(a: np.ndarray):
    """``a`` as a tensor on the backend's compute device, placed once, before timing.

    Keras's JAX and torch backends create tensors on their default device already;
    TensorFlow makes eager tensors in host memory and would copy them to a GPU on
    every call, so they are copied there once here.
    """
    t = keras.ops.convert_to_tensor(a)
    if BACKEND == "tensorflow":
        import tensorflow as tf

        if tf.config.list_logical_devices("GPU"):
            with tf.device("/GPU:0"):
                t = tf.identity(t)
    return t


def _device_label() -> str:
    if BACKEND == "jax":
        return benchutil.jax_device_label()
    if BACKEND == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            return "gpu: " + tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    if BACKEND == "torch":
        import torch

        if torch.cuda.is_available():
            return "gpu: " + torch.cuda.get_device_name(0)
    return benchutil.cpu_label()


# Parametrised by the backend only so that every test id names it (test_fit[tensorflow]):
# pytest-benchmark compare then lines up each backend's figures across timing files.
@pytest.fixture(scope="module", params=[BACKEND])
def km(request, problem):
    """The workload's Keras model for this backend's arm, built and compiled as ``keras_worker`` does
    (the same ``KerasArm``), its first ``fit`` timed once."""
    from paritybench.arms.keras_worker import KerasArm

    readback = benchutil.read_back(_MODULE)
    if keras.backend.backend() != BACKEND:
        pytest.fail(f"Keras loaded backend {keras.backend.backend()}, not {BACKEND}")
    keras.utils.set_random_seed(0)
    n = problem["x"].shape[0]
    workload = problem["workload"]
    ka = KerasArm(keras, BACKEND, workload, benchutil.timed_arm(SUITE), problem["lr"])
    model = ka.model

    def reset() -> None:
        ka.set_weights(problem["init"])
        ka.reset_optimizer()

    x, y = problem["x"], problem["y"]
    reset()
    first_fit = benchutil.time_once(lambda: model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0))
    return {
        "model": model,
        "reset": reset,
        "x": x,
        "y": y,
        "n": n,
        "device": _device_label(),
        "flops": problem["step_flops"].total if problem["step_flops"] else None,
        "info": {
            "suite": SUITE,
            "backend": BACKEND,
            "workload": workload.name,
            "jit_compile": str(model.jit_compile),
            "first_fit_seconds": first_fit,
            "device_note": readback.get("devices"),
        },
    }


def _train_function_step(km):
    """One call of the backend's compiled train function on device tensors, and its per-round setup."""
    model = km["model"]
    model.make_train_function()
    data = (_on_device(km["x"]), _on_device(km["y"]), None)
    if BACKEND == "jax":
        import jax

        # train_step is jitted with the state donated, so each round gets a fresh copy of the
        # initial state (untimed) and the call's new state is what it returns.
        km["reset"]()
        state0 = jax.tree.map(
            np.asarray,
            model._get_jax_state(
                trainable_variables=True,
                non_trainable_variables=True,
                optimizer_variables=True,
                metrics_variables=True,
                purge_model_variables=False,
            ),
        )
        box = {}

        def setup():
            # device_put is asynchronous: wait, so that no copy runs into the timed call
            box["state"] = jax.block_until_ready(jax.tree.map(jax.device_put, state0))

        def step():
            logs, box["state"] = model.train_function(box["state"], iter([data]))
            jax.block_until_ready((logs, box["state"]))

        return step, setup
    if BACKEND == "tensorflow":

        def step():
            logs = model.train_function([data])
            float(logs["loss"])  # a scalar to the host: waits for the step on any device

        return step, km["reset"]

    def step():  # torch
        logs = model.train_function([data])
        float(logs["loss"])
        _sync()

    return step, km["reset"]


def test_fit(timed, km):
    model, x, y, n = km["model"], km["x"], km["y"], km["n"]
    timed(
        lambda: model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0),
        kind="keras",
        group="step",
        label=f"{SUITE}-fit",
        setup=km["reset"],
        measure="step",
        flops=km["flops"],
        steps_per_call=1,
        blas=f"{BACKEND}-pair" if BACKEND != "jax" else "xla-pair-x10",
        device=km["device"],
        dtype="float32",
        **km["info"],
    )


def test_train_on_batch(timed, km):
    model, x, y = km["model"], km["x"], km["y"]
    timed(
        lambda: model.train_on_batch(x, y),
        kind="keras",
        group="step",
        label=f"{SUITE}-train_on_batch",
        setup=km["reset"],
        measure="step",
        flops=km["flops"],
        steps_per_call=1,
        blas=f"{BACKEND}-pair" if BACKEND != "jax" else "xla-pair-x10",
        device=km["device"],
        dtype="float32",
        **km["info"],
    )


def test_train_function(timed, km):
    step, setup = _train_function_step(km)
    first = benchutil.time_once(lambda: (setup(), step()))
    timed(
        step,
        kind="keras",
        group="step",
        label=f"{SUITE}-train_function",
        setup=setup,
        measure="step",
        flops=km["flops"],
        steps_per_call=1,
        blas=f"{BACKEND}-pair" if BACKEND != "jax" else "xla-pair-x10",
        device=km["device"],
        dtype="float32",
        first_call_seconds=first,
        **km["info"],
    )


@pytest.mark.skipif(BACKEND == "jax", reason="the JAX backend's matmul is XLA's: xla-pair(-x10) in test_jax.py")
def test_matmul(timed, problem, km):
    """The backend's own float32 matmul pair (x @ W0, x.T @ dh), eager, as the framework dispatches it."""
    if problem["kernel"] is None:
        pytest.skip("the workload's first parameter is no (in, out) kernel to time the products of")
    (n, d_in), d_out = problem["x"].shape, problem["dh"].shape[1]
    x, w, dh = (_on_device(a) for a in (problem["x"], problem["init"][problem["kernel"]], problem["dh"]))
    if BACKEND == "tensorflow":
        import tensorflow as tf

        def pair():
            out = (tf.linalg.matmul(x, w), tf.linalg.matmul(x, dh, transpose_a=True))
            _sync()
            return out
    else:

        def pair():
            out = (x @ w, x.T @ dh)  # x.T is a view: no copy before the product
            _sync()
            return out

    timed(
        pair,
        kind="matmul",
        group="matmul-f32",
        label=f"{BACKEND}-pair",
        measure="matmul",
        suite=SUITE,
        flops=matmul_flops(n, d_in, d_out) + matmul_flops(d_in, n, d_out),
        steps_per_call=1,
        device=km["device"],
        dtype="float32",
    )
