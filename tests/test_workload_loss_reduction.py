"""loss-reduction: Keras's class-weighted sum_over_batch_size (sum(w l) / n) vs torch's weighted mean
(sum(w l) / sum(w)), pinned on constructed cases (float64, torch's two target formats), the exact full-batch
relation (the port is Keras at lr / mean(w)), the preset (JAX arms only), and end to end (slow): the Keras arms
through api.run, and the Keras loss the worker compiles against Keras's own fit(class_weight=...)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch

from paritybench import workloads
from paritybench.arms import f64, jax_trainer
from paritybench.arms.base import TrainSpec
from paritybench.experiment import data
from paritybench.workloads.base import resolve_ref
from paritybench.workloads.loss_reduction import jax_model as jm
from paritybench.workloads.loss_reduction import torch_model as tm
from paritybench.workloads.loss_reduction.workload import CLASS_WEIGHT

from .conftest import ROOT

CW = np.asarray(CLASS_WEIGHT)


def _case():
    """Logits and one-hot labels of 12 samples over the 10 classes, three of them the weighted digit 9."""
    rng = np.random.default_rng(3)
    z = rng.normal(0.0, 2.0, size=(12, 10))
    labels = np.array([9, 1, 2, 9, 4, 5, 6, 7, 8, 9, 0, 3])
    return z, np.eye(10)[labels], labels


def _mean(f, z, y):
    with jax.enable_x64(True):
        return float(jnp.mean(f(jnp.asarray(z), jnp.asarray(y))))


def test_the_two_reductions_and_torch_on_each_target_format():
    """float64: the fix's mean is sum(w l) / n, the port's sum(w l) / sum(w); torch's CrossEntropyLoss(weight)
    gives the port's on class indices and the fix's on one-hot rows."""
    z, y, labels = _case()
    lse = np.log(np.sum(np.exp(z), axis=1))
    per = lse - z[np.arange(12), labels]  # CE from logits
    w = CW[labels]
    keras, port = np.sum(w * per) / 12, np.sum(w * per) / np.sum(w)
    assert _mean(jm.weighted, z, y) == pytest.approx(keras, rel=1e-14)
    assert _mean(jm.weighted_mean, z, y) == pytest.approx(port, rel=1e-14)
    assert port / keras == pytest.approx(12 / np.sum(w), rel=1e-14) and np.sum(w) == 24.0
    zt, yt = torch.tensor(z), torch.tensor(y)
    assert float(tm.ce_weight(zt, yt)) == pytest.approx(port, rel=1e-14)
    assert float(tm.ce_weight_onehot(zt, yt)) == pytest.approx(keras, rel=1e-14)


def test_full_batch_the_port_is_keras_at_lr_over_mean_w():
    """The exact relation on the preset's window, float64: the port's gradient is the fix's times n / sum(w),
    so ten SGD steps of the port at lr equal ten of Keras's reduction at lr / mean(w) (1e-12)."""
    w = workloads.load("loss-reduction")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    mean_w = float(np.mean(np.asarray(y) @ CW))
    assert mean_w == pytest.approx(1.4, abs=1e-12)  # 100 nines of 1000
    init = resolve_ref(w.model.init)(0)
    ref = w.arm("reference-f64")
    port_f64 = replace(ref, loss_fn=w.arm("jax-weighted-mean").loss_fn)
    lr = w.training.lr
    a = f64.train_many(w, port_f64, [init], x, y, TrainSpec(steps=10, lr=lr))[0].final_weights
    b = f64.train_many(w, ref, [init], x, y, TrainSpec(steps=10, lr=lr / mean_w))[0].final_weights
    c = f64.train_many(w, ref, [init], x, y, TrainSpec(steps=10, lr=lr))[0].final_weights
    assert max(float(np.max(np.abs(a[k] - b[k]))) for k in a) < 1e-12
    assert max(float(np.max(np.abs(a[k] - c[k]))) for k in a) > 1e-3


def test_preset_literal_port_leaves_the_keras_trajectory_and_the_fix_stays_on_it():
    """The preset's JAX arms against the float64 Keras-reduction arbiter after ten steps: the port 1.7e-2 away
    (max |dw|; 0.443 vs 0.534 training accuracy in the baseline), the fix within float32 rounding (8.9e-8)."""
    w = workloads.load("loss-reduction")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)
    spec = TrainSpec(steps=w.training.steps, lr=w.training.lr)
    ref = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0].final_weights

    def gap(arm):
        fw = jax_trainer.train_many(w, w.arm(arm), [init], x, y, spec)[0].final_weights
        return max(float(np.max(np.abs(fw[k] - ref[k]))) for k in ref)

    port, fix = gap("jax-weighted-mean"), gap("jax-sum-over-batch")
    print(f"\nmax|w - w_f64| after {spec.steps} steps: port {port:.3g}, fix {fix:.3g}")
    assert port > 1e-2 and fix < 2e-7


_FIT_CLASS_WEIGHT = textwrap.dedent("""
    import os
    os.environ["KERAS_BACKEND"] = "tensorflow"
    import keras, numpy as np
    from paritybench.experiment import data
    from paritybench.workloads.loss_reduction import jax_model as jm, keras_model as km
    x, y = data.window(data.load_mnist(), 0, 1000, normalize=True, labels="onehot10")
    out = []
    for loss, cw in ((keras.losses.categorical_crossentropy, {9: 5.0}), (km.loss(keras), None),
                     (keras.losses.CategoricalCrossentropy(reduction="mean_with_sample_weight"), {9: 5.0}),
                     (km.loss_mean_with_sample_weight(keras), None)):
        model, v = km.build(keras)
        for k, var in v.items():
            var.assign(jm.init(0)[k])
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
        for _ in range(2):
            model.fit(x, y, batch_size=1000, epochs=1, shuffle=False, verbose=0, class_weight=cw)
        out.append({k: keras.ops.convert_to_numpy(var.value) for k, var in v.items()})
    d = lambda a, b: max(float(np.max(np.abs(a[k] - b[k]))) for k in a)
    print(d(out[0], out[1]), d(out[2], out[3]), d(out[0], out[2]))
""")


@pytest.mark.slow
def test_end_to_end_keras_reductions_reproduced_and_fit_class_weight_is_the_workloads_loss(tmp_path, api_run):
    """One step through api.run: Keras-TF's class-weighted CE is reproduced by the fix, its
    mean_with_sample_weight by the literal port (1e-6). Then, in one Keras-TF process, two full-batch steps of
    Keras's own fit(class_weight={9: 5.0}) land bit-identical on the workload's Keras loss (which the worker,
    calling fit without class_weight, compiles), for each reduction (the two reductions over 1e-3 apart)."""
    out = tmp_path / "lr.json"
    api_run(
        "loss-reduction",
        steps=1,
        weights=False,
        out=out,
        arms="jax-weighted-mean,jax-sum-over-batch,keras-tensorflow,keras-tensorflow-mean-with-sample-weight,reference-f64",
    )  # raises where an arm errors (the CLI's exit 1)
    mech = {m["keras_arm"]: m for m in json.loads(out.read_text())["mechanism"]}
    assert {k: m["emulation"] for k, m in mech.items()} == {
        "keras-tensorflow": "jax-sum-over-batch",
        "keras-tensorflow-mean-with-sample-weight": "jax-weighted-mean",
    }
    for m in mech.values():
        assert m["reproduced"] and m["max_abs_diff_step1"] <= 1e-6, m
    fit = subprocess.run([sys.executable, "-c", _FIT_CLASS_WEIGHT], capture_output=True, text=True, cwd=ROOT)
    assert fit.returncode == 0, fit.stderr[-3000:]
    same, same_mwsw, apart = (float(v) for v in fit.stdout.split()[-3:])
    assert same == 0.0 and same_mwsw == 0.0 and apart > 1e-3
