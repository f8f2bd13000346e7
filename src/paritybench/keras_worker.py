"""Trains the Keras arms for one backend, in a process of its own.

Keras fixes its backend at import, so the runner starts
``python -m paritybench.keras_worker JOB.json`` once per backend. The job names
the cases (seed, window, initial-weights file) and, for the seed's weight swap,
other arms' final weights to evaluate with this backend's forward pass. The
worker writes ``result.json`` and one npz of final weights per case into the
job's folder and reports progress as ``PB-EVENT {json}`` lines on stdout.

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
    from paritybench.arms.base import grad_norm_from_update
    from paritybench.model import PARAM_NAMES, check_weights, copy_weights, count_correct, save_weights_npz

    readback = flags.READ_BACK[backend](opts)
    if keras.backend.backend() != backend:
        raise RuntimeError(f"Keras loaded backend {keras.backend.backend()}, not {backend}")
    keras.utils.set_random_seed(0)
    ds = data.load_mnist(job["data_path"], job.get("data_sha256"))
    n, steps, lr = job["n"], job["steps"], job["lr"]

    model = keras.Sequential([
        keras.Input(shape=(784,)),
        keras.layers.Dense(1000, activation="relu"),
        keras.layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr),
                  loss=keras.losses.binary_crossentropy)
    variables = {
        "dense_0/kernel": model.layers[0].kernel, "dense_0/bias": model.layers[0].bias,
        "dense_1/kernel": model.layers[1].kernel, "dense_1/bias": model.layers[1].bias,
    }

    def set_weights(w) -> None:
        check_weights(w, "weights for Keras")
        for name, var in variables.items():
            if tuple(var.shape) != w[name].shape:
                raise ValueError(f"Keras variable {var.path} has shape {tuple(var.shape)}, "
                                 f"weights {name} have {w[name].shape}")
            var.assign(np.array(w[name], dtype=np.float32, copy=True))

    def get_weights():
        return {name: np.array(keras.ops.convert_to_numpy(var.value), copy=True)
                for name, var in variables.items()}

    def correct(x, y) -> int:
        return count_correct(model.predict(x, batch_size=x.shape[0], verbose=0), y, 0.5)

    env = {
        "backend": backend,
        "keras": keras.__version__,
        "jit_compile": str(getattr(model, "jit_compile", None)),
        "import_seconds": time.perf_counter() - t0,
        "numerics": readback,
    }
    results, swap = [], []
    windows: dict[int, tuple] = {}
    for case in job["cases"]:
        seed, start = case["seed"], case["window"]
        t_case = time.perf_counter()
        if start not in windows:
            windows[start] = data.window(ds, start, n, job["normalize"])
        x, y = windows[start]
        with np.load(case["init_file"], allow_pickle=False) as z:
            init = copy_weights({k: z[k] for k in PARAM_NAMES})
        set_weights(init)
        model.optimizer.iterations.assign(0)
        curves = {"loss": [], "correct": [], "grad_norm": []}
        before = get_weights()
        train_seconds = 0.0
        for _ in range(steps):
            curves["correct"].append(correct(x, y))
            t = time.perf_counter()
            hist = model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0)
            train_seconds += time.perf_counter() - t
            curves["loss"].append(float(hist.history["loss"][0]))
            after = get_weights()
            curves["grad_norm"].append(grad_norm_from_update(before, after, lr))
            curves.setdefault("_finite", []).append(all(bool(np.all(np.isfinite(v))) for v in before.values()))
            before = after
        curves["correct"].append(correct(x, y))
        curves["loss"].append(float(model.evaluate(x, y, batch_size=n, verbose=0, return_dict=True)["loss"]))
        curves["_finite"].append(all(bool(np.all(np.isfinite(v))) for v in before.values()))
        finite = curves.pop("_finite")
        curves["nonfinite"] = [(not f) or not np.isfinite(lv) for f, lv in zip(finite, curves["loss"], strict=True)]
        curves["accuracy"] = [c / n for c in curves["correct"]]
        final_file = os.path.join(job["out_dir"], f"final-s{seed}-w{start}.npz")
        save_weights_npz(final_file, {"w": before})
        results.append({"seed": seed, "window": start, "curves": curves, "final_file": final_file,
                        "info": {"grad_norm_source": "update/lr", "train_seconds": train_seconds,
                                 "case_seconds": time.perf_counter() - t_case}})
        _event(kind="case", seed=seed, window=start)
    for item in job.get("evaluate", []):
        x, y = windows.get(item["window"]) or data.window(ds, item["window"], n, job["normalize"])
        with np.load(item["weights_file"], allow_pickle=False) as z:
            set_weights({k: z[k] for k in PARAM_NAMES})
        swap.append({"label": item["label"], "seed": item["seed"], "window": item["window"],
                     "correct": correct(x, y)})
    out = os.path.join(job["out_dir"], "result.json")
    with open(out + ".tmp", "w") as fh:
        json.dump({"environment": env, "runs": results, "swap": swap}, fh)
    os.replace(out + ".tmp", out)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except Exception as exc:  # the parent records this as the arm's error
        traceback.print_exc()
        print(f"PB-ERROR {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)
        sys.exit(3)
