"""Trains the Keras arms for one backend, in a process of its own.

Keras fixes its backend at import, so the runner starts
``python -m paritybench.keras_worker JOB.json`` once per backend. The job lists
cases (an id, a data window, an initial-weights file) and, for the seed's weight
swap, other arms' final weights to evaluate with this backend's forward pass.
For each case the worker writes ``case-<id>.json`` (curves), ``final-<id>.npz``
and, when asked, ``traj-<id>.npz`` (weights after every step) into the job's
folder, then reports ``PB-EVENT {json}`` on stdout, so the runner can record
finished cases even if a later one fails.

The model is built and compiled once and reused: between cases its weights are
set from the initial arrays and the optimizer's step counter is reset (plain
SGD has no other state).
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback


def _event(**kw) -> None:
    print("PB-EVENT " + json.dumps(kw), flush=True)


def _probe_fn(backend: str, keras, variables):
    """``probe(x, y) -> (p, z, dz)``: sigmoid output, logit, and d(per-sample loss)/d(logit)
    of ``keras.losses.binary_crossentropy`` on this backend, by this backend's autodiff.

    The forward pass repeats the model's own ops (matmul, add, relu; sigmoid through
    ``keras.activations.sigmoid``, which on TensorFlow caches the logits that the
    loss then uses). On TensorFlow it runs in a ``tf.function``, as ``fit`` does:
    the logits cache only exists on graph tensors.
    """
    ops = keras.ops
    k0, b0, k1, b1 = (variables[n] for n in ("dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias"))

    def logits(x):
        h = ops.relu(ops.add(ops.matmul(x, k0.value), b0.value))
        return ops.add(ops.matmul(h, k1.value), b1.value)

    def loss(y, z):
        return keras.losses.binary_crossentropy(y, keras.activations.sigmoid(z))

    if backend == "tensorflow":
        import tensorflow as tf

        @tf.function
        def probe(x, y):
            z = logits(x)
            with tf.GradientTape() as tape:
                tape.watch(z)
                per_sample = loss(y, z)
            return keras.activations.sigmoid(z), z, tape.gradient(per_sample, z)

        return probe
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        def probe(x, y):
            z = logits(x)
            dz = jax.grad(lambda zz: jnp.sum(loss(y, zz)))(z)
            return keras.activations.sigmoid(z), z, dz

        return probe
    if backend == "torch":
        import torch

        def probe(x, y):
            with torch.no_grad():
                z = logits(ops.convert_to_tensor(x))
            z = z.detach().requires_grad_(True)
            per_sample = loss(ops.convert_to_tensor(y), z)
            per_sample.sum().backward()
            return keras.activations.sigmoid(z).detach(), z.detach(), z.grad

        return probe
    raise ValueError(f"unknown backend {backend}")


def main(argv: list[str]) -> int:
    job_path = argv[0]
    with open(job_path) as fh:
        job = json.load(fh)
    backend = job["backend"]
    # Flags before the import of any framework: paritybench.flags imports none.
    from paritybench import flags

    opts = flags.NumericsOptions(**job["numerics"])
    os.environ.update(flags.env_for(opts))
    os.environ["KERAS_BACKEND"] = backend
    t0 = time.perf_counter()
    import keras
    import numpy as np

    from paritybench import data
    from paritybench.arms.base import grad_norm_from_update, nonfinite_steps, weights_nonfinite
    from paritybench.diagnostics import PER_STEP, SATURATION_LOGIT
    from paritybench.model import PARAM_NAMES, check_weights, copy_weights, count_correct, save_weights_npz

    readback = flags.READ_BACK[backend](opts)
    if keras.backend.backend() != backend:
        raise RuntimeError(f"Keras loaded backend {keras.backend.backend()}, not {backend}")
    keras.utils.set_random_seed(0)
    ds = data.load_mnist(job["data_path"], job.get("data_sha256"))
    n, steps, lr = job["n"], job["steps"], job["lr"]
    keep_trajectory = bool(job.get("keep_trajectory"))
    out_dir = job["out_dir"]

    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    # BinaryAccuracy thresholds at 0.5 like the seed's evaluation; as a metric it
    # is computed from the training step's own forward pass.
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss=keras.losses.binary_crossentropy,
                  metrics=[keras.metrics.BinaryAccuracy(name="accuracy")])
    variables = {
        "dense_0/kernel": model.layers[0].kernel, "dense_0/bias": model.layers[0].bias,
        "dense_1/kernel": model.layers[1].kernel, "dense_1/bias": model.layers[1].bias,
    }
    probe = _probe_fn(backend, keras, variables)

    def set_weights(w) -> None:
        check_weights(w, "weights for Keras")
        for name, var in variables.items():
            if tuple(var.shape) != w[name].shape:
                raise ValueError(f"Keras variable {var.path} has shape {tuple(var.shape)}, "
                                 f"weights {name} have {w[name].shape}")
            # a fresh copy: the JAX backend may delete the buffer it is handed
            var.assign(np.array(w[name], dtype=np.float32, copy=True))

    def get_weights():
        return {name: np.array(keras.ops.convert_to_numpy(var.value), copy=True) for name, var in variables.items()}

    def correct(x, y) -> int:
        return count_correct(model.predict(x, batch_size=x.shape[0], verbose=0), y, 0.5)

    def diagnose(x, y, curves) -> None:
        p, z, dz = (keras.ops.convert_to_numpy(v) for v in probe(x, y))
        curves["saturated_output"].append(float(np.mean((p == 0.0) | (p == 1.0))))
        curves["saturated_logit"].append(float(np.mean(np.abs(z) > SATURATION_LOGIT)))
        curves["dead_gradient"].append(float(np.mean(dz == 0.0)))
        curves["nonfinite_gradient"].append(float(np.mean(~np.isfinite(dz))))
        curves["dead_misclassified"].append(float(np.mean((dz == 0.0) & ((p > 0.5) != (y > 0.5)))))

    env = {
        "backend": backend,
        "keras": keras.__version__,
        "jit_compile": str(getattr(model, "jit_compile", None)),
        "import_seconds": time.perf_counter() - t0,
        "numerics": readback,
    }
    windows: dict[int, tuple] = {}

    def window(start):
        if start not in windows:
            windows[start] = data.window(ds, start, n, job["normalize"])
        return windows[start]

    for case in job["cases"]:
        cid, start = case["id"], case["window"]
        t_case = time.perf_counter()
        x, y = window(start)
        with np.load(case["init_file"], allow_pickle=False) as z:
            init = copy_weights({k: z[k] for k in PARAM_NAMES})
        set_weights(init)
        model.optimizer.iterations.assign(0)
        names = ("loss", "correct", "grad_norm", *PER_STEP)
        curves: dict[str, list] = {k: [] for k in names}
        finite_flags = []
        before = get_weights()
        traj = [before] if keep_trajectory else None
        train_seconds = 0.0
        for _ in range(steps):
            if keep_trajectory:
                diagnose(x, y, curves)
            finite_flags.append(not weights_nonfinite(before))
            t = time.perf_counter()
            hist = model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0)
            train_seconds += time.perf_counter() - t
            # fit reports loss and accuracy at the weights *before* its update,
            # from the forward pass the update itself used: no extra pass needed
            curves["loss"].append(float(hist.history["loss"][0]))
            curves["correct"].append(round(float(hist.history["accuracy"][0]) * n))
            after = get_weights()
            curves["grad_norm"].append(grad_norm_from_update(before, after, lr))
            before = after
            if traj is not None:
                traj.append(after)
        if keep_trajectory:
            diagnose(x, y, curves)
        finite_flags.append(not weights_nonfinite(before))
        last = model.evaluate(x, y, batch_size=n, verbose=0, return_dict=True)
        curves["loss"].append(float(last["loss"]))
        curves["correct"].append(round(float(last["accuracy"]) * n))
        curves["nonfinite"] = nonfinite_steps(finite_flags, curves["loss"])
        curves["accuracy"] = [c / n for c in curves["correct"]]
        if not keep_trajectory:  # per-step diagnostics cost a forward pass each: full mode only
            for k in PER_STEP:
                del curves[k]
        final_file = os.path.join(out_dir, f"final-{cid}.npz")
        save_weights_npz(final_file, {"w": before})
        record = {"id": cid, "curves": curves, "final_file": final_file,
                  "info": {"grad_norm_source": "update/lr", "train_seconds": train_seconds,
                           "case_seconds": time.perf_counter() - t_case}}
        if traj is not None:
            record["traj_file"] = os.path.join(out_dir, f"traj-{cid}.npz")
            save_weights_npz(record["traj_file"], {f"k{i}": w for i, w in enumerate(traj)})
        path = os.path.join(out_dir, f"case-{cid}.json")
        with open(path + ".tmp", "w") as fh:
            json.dump(record, fh)
        os.replace(path + ".tmp", path)
        _event(kind="case", id=cid, file=path)

    swap = []
    for item in job.get("evaluate", []):
        x, y = window(item["window"])
        with np.load(item["weights_file"], allow_pickle=False) as z:
            set_weights({k: z[k] for k in PARAM_NAMES})
        swap.append({"label": item["label"], "case": item["case"], "correct": correct(x, y)})
    out = os.path.join(out_dir, "result.json")
    with open(out + ".tmp", "w") as fh:
        json.dump({"environment": env, "swap": swap}, fh)
    os.replace(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    from paritybench.procs import die_with_parent

    die_with_parent()  # issue 9: a SIGKILLed parent takes this worker (and its temp folder) with it
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as exc:  # the parent records this as the arm's error
        traceback.print_exc()
        print(f"PB-ERROR {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(3)
