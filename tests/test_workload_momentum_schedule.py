"""momentum-schedule: Keras's SGD momentum (lr folded into the velocity) against optax's and torch's (today's lr on
the buffer of raw gradients), exactly on constructed cases in float64 (one rule at a constant lr, the step ratio
under the step schedule, Nesterov too), torch's StepLR ordering, the preset (JAX arms) and, through api.run,
Keras's schedule counted as the fix counts it."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from paritybench import workloads
from paritybench.arms import f64, jax_trainer
from paritybench.arms.base import TrainSpec
from paritybench.experiment import data
from paritybench.workloads.base import resolve_ref
from paritybench.workloads.momentum_schedule import jax_model as jm
from paritybench.workloads.momentum_schedule.workload import DROP_EVERY, MOMENTUM, lr_at, step_ratio

from .conftest import ROOT

BASELINE = ROOT / "results" / "baselines" / "momentum-schedule-cpu.json"
# optax's exponential_decay evaluates in float32 (its count is int32) even under x64: a learning rate that float32
# holds exactly keeps the float64 comparisons exact (Keras's ExponentialDecay computes in float32 too)
LR, STEPS = float(np.float32(0.1)), 20
W0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.3, -1.0, 2e-3]) * (1 + 0.1 * np.sin(k)) for k in range(STEPS)]  # a varying gradient


def _updates(opt, grads):
    """The per-step updates of the optax transform ``opt`` on the gradient sequence, in float64."""
    with jax.enable_x64(True):
        params = {"w": jnp.asarray(W0)}
        state = opt.init(params)
        out = []
        for g in grads:
            u, state = opt.update({"w": jnp.asarray(g)}, state, params)
            params = optax.apply_updates(params, u)
            out.append(np.asarray(u["w"]))
        return out


def _keras_rule(grads, nesterov=False):
    """keras/src/optimizers/sgd.py update_step in NumPy: v = m*v - lr_k*g; w += v (Nesterov: m*v - lr_k*g)."""
    v, out = np.zeros_like(W0), []
    for k, g in enumerate(grads):
        v = MOMENTUM * v - lr_at(LR, k) * g
        out.append(MOMENTUM * v - lr_at(LR, k) * g if nesterov else v)
    return out


def _buffer_rule(grads, nesterov=False):
    """torch/optim/sgd.py _single_tensor_sgd in NumPy: b = m*b + g; w -= lr_k*b (Nesterov: lr_k*(g + m*b))."""
    b, out = np.zeros_like(W0), []
    for k, g in enumerate(grads):
        b = MOMENTUM * b + g
        out.append(-lr_at(LR, k) * (g + MOMENTUM * b if nesterov else b))
    return out


@pytest.mark.parametrize("nesterov", [False, True])
def test_each_optax_transform_is_its_framework_rule(nesterov):
    keras_t, buffer_t = (jm.keras_nesterov, jm.optax_nesterov_literal) if nesterov else (
        jm.keras_momentum, jm.optax_sgd_literal)  # fmt: skip
    for got, want in zip(_updates(keras_t(LR), GRADS), _keras_rule(GRADS, nesterov), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-16)
    for got, want in zip(_updates(buffer_t(LR), GRADS), _buffer_rule(GRADS, nesterov), strict=True):
        np.testing.assert_allclose(got, want, rtol=1e-13, atol=1e-16)


@pytest.mark.parametrize("nesterov", [False, True])
def test_one_rule_while_the_lr_is_constant_two_after_it_drops(nesterov):
    keras, buffer = _keras_rule(GRADS, nesterov), _buffer_rule(GRADS, nesterov)
    for k in range(DROP_EVERY):  # lr constant: the same update
        np.testing.assert_allclose(keras[k], buffer[k], rtol=1e-13)
    # the first step at the halved lr: the buffer rule's step is smaller by lr (1 - gamma) m b (b before the step)
    b4 = sum(MOMENTUM ** (DROP_EVERY - 1 - j) * GRADS[j] for j in range(DROP_EVERY))
    if not nesterov:
        np.testing.assert_allclose(buffer[DROP_EVERY] - keras[DROP_EVERY], LR * 0.5 * MOMENTUM * b4, rtol=1e-12)
    assert np.all(np.abs(buffer[DROP_EVERY] - keras[DROP_EVERY]) > 1e-4)


def test_step_ratio_under_a_constant_gradient_is_exact_every_step():
    g = [np.ones(3)] * STEPS
    keras, buffer = _keras_rule(g), _buffer_rule(g)
    for k in range(STEPS):
        np.testing.assert_allclose(buffer[k] / keras[k], step_ratio(k), rtol=1e-13)
    assert step_ratio(DROP_EVERY - 1) == 1.0 and round(step_ratio(DROP_EVERY), 4) == 0.5597


def test_torch_sgd_with_step_lr_after_each_step_is_the_buffer_rule(torch):
    """SGDStepLR in float64 fed the gradient sequence: optax.sgd's updates every step, across the three drops
    (StepLR stepped after optimizer.step(), so step k runs at lr * 0.5 ** (k // 5)), and no warning."""
    import warnings

    from paritybench.workloads.momentum_schedule import torch_model as tm

    p = torch.tensor(W0, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt = tm.sgd_step_lr({"w": p}, LR)
        got = []
        for g in GRADS:
            before = p.detach().clone()
            p.grad = torch.tensor(g)
            opt.step()
            got.append((p.detach() - before).numpy())
    for a, b in zip(got, _buffer_rule(GRADS), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-16)
    assert opt.param_groups[0]["lr"] == pytest.approx(lr_at(LR, STEPS))


def test_torch_fix_scales_each_gradient_by_the_step_lr_and_is_the_keras_rule(torch):
    """KerasMomentumSGD in float64: Keras's updates every step across the drops; the caller's gradient is scaled in
    place (as a training loop's ``.grad``), torch's own lr stays 1.0."""
    from paritybench.workloads.momentum_schedule import torch_model as tm

    p = torch.tensor(W0, requires_grad=True)
    opt = tm.keras_sgd({"w": p}, LR)
    got = []
    for g in GRADS:
        before = p.detach().clone()
        p.grad = torch.tensor(g)
        opt.step()
        got.append((p.detach() - before).numpy())
    for a, b in zip(got, _keras_rule(GRADS), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-16)
    assert opt.param_groups[0]["lr"] == 1.0


def test_preset_port_agrees_until_the_first_drop_then_parts():
    """The preset's JAX arms: after 5 steps (constant lr) the literal port is within float32 rounding of the
    float64 Keras-rule arbiter; after 20 it is far from it while the fix stays within rounding."""
    w = workloads.load("momentum-schedule")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)

    def gap(arm, steps):
        spec = TrainSpec(steps=steps, lr=w.training.lr)
        ref = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0].final_weights
        fw = jax_trainer.train_many(w, w.arm(arm), [init], x, y, spec)[0].final_weights
        return max(float(np.max(np.abs(fw[k] - ref[k]))) for k in ref)

    assert gap("jax-sgd-momentum-literal", DROP_EVERY) < 1e-6
    assert gap("jax-sgd-momentum-literal", STEPS) > 1e-2
    assert gap("jax-keras-momentum", STEPS) < 1e-6

    def nesterov_gap(steps):  # Nesterov: the optax port against Keras's rule (the reference is plain momentum)
        spec = TrainSpec(steps=steps, lr=w.training.lr)
        a, b = (jax_trainer.train_many(w, w.arm(n), [init], x, y, spec)[0].final_weights
                for n in ("jax-nesterov-literal", "jax-keras-nesterov"))  # fmt: skip
        return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)

    assert nesterov_gap(DROP_EVERY) < 1e-6 and nesterov_gap(STEPS) > 1e-2


def test_committed_baseline_parts_at_the_first_drop():
    """The committed CPU baseline: the port's and torch's distance to the float64 reference stays at rounding for
    the 5 constant-lr steps and jumps at step 5 (weights after 6 updates); every pair reproduced."""
    a = json.loads(BASELINE.read_text())
    runs = {r["arm"]: r for r in a["runs"] if r["status"] == "ok"}
    for arm in ("jax-sgd-momentum-literal", "torch-sgd-momentum"):
        d = runs[arm]["curves"]["weight_max_abs_diff"]
        assert max(d[: DROP_EVERY + 1]) < 1e-6 and min(d[DROP_EVERY + 1 :]) > 1e-3, (arm, d)
    for arm in ("jax-keras-momentum", "torch-keras-momentum"):
        assert max(runs[arm]["curves"]["weight_max_abs_diff"]) < 1e-6, arm
    mech = {m["keras_arm"] for m in a["mechanism"] if m["reproduced"]}
    keras = {"keras-tensorflow", "keras-jax", "keras-torch", "keras-tensorflow-nesterov"}
    assert mech == keras | {"torch-sgd-momentum", "torch-keras-momentum", "torch-sgd-nesterov"}
    # Keras's Nesterov SGD trains another optimizer than the optax/torch Nesterov port: 0.826 vs 0.809 here
    assert runs["keras-tensorflow-nesterov"]["final_accuracy"] == runs["jax-keras-nesterov"]["final_accuracy"]
    assert runs["torch-sgd-nesterov"]["final_accuracy"] == runs["jax-nesterov-literal"]["final_accuracy"]
    assert runs["jax-keras-nesterov"]["final_loss"] < runs["jax-nesterov-literal"]["final_loss"] - 0.05


@pytest.mark.slow
def test_end_to_end_keras_counts_the_schedule_as_the_fix_does(tmp_path, api_run):
    """Through api.run, 7 steps: Keras-JAX's SGD under ExponentialDecay(staircase) stays within 1e-6 of its
    emulation across the first drop (its schedule read at ``iterations`` before the increment), while the optax
    port leaves the float64 reference at step 5."""
    out = tmp_path / "ms.json"
    arms = "jax-sgd-momentum-literal,jax-keras-momentum-clip,keras-jax,reference-f64"
    api_run(
        "momentum-schedule", steps=7, weights=False, out=out, arms=arms
    )  # raises where an arm errors (the CLI's exit 1)
    a = json.loads(out.read_text())
    (mech,) = a["mechanism"]
    assert mech["keras_arm"] == "keras-jax" and mech["reproduced"] and mech["max_abs_diff_final"] <= 1e-6, mech
    d = {r["arm"]: r for r in a["runs"]}["jax-sgd-momentum-literal"]["curves"]["weight_max_abs_diff"]
    assert max(d[: DROP_EVERY + 1]) < 1e-6 and d[DROP_EVERY + 1] > 1e-3, d


def test_localize_parts_the_port_at_the_first_drop_in_the_update():
    """In-process localize over the first 7 steps: the optax port parts from the float64 reference at step 5, in
    the update phase, in dense_0/kernel (the constant-lr steps 0-4 stay under the factor); the fix never parts."""
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import localize

    w = workloads.load("momentum-schedule")
    x, y = data.window(data.load_mnist(), 0, w.data.n, w.data.normalize, labels=w.data.labels)
    init = copy_weights(resolve_ref(w.model.init)(0, False), w.model.params)
    ctx = localize.Context(
        w, w.training.lr, DROP_EVERY + 2, x, y, init, NumericsOptions(), n=w.data.n, normalize=w.data.normalize
    )
    cache: dict = {}
    ref = w.arm(w.reference)
    port = localize.localize_pair(ctx, w.arm("jax-sgd-momentum-literal"), ref, cache)
    fix = localize.localize_pair(ctx, w.arm("jax-keras-momentum"), ref, cache)
    f = port.first
    assert (f.step, f.phase, f.tensor) == (DROP_EVERY, "update", "dense_0/kernel"), port.line()
    assert fix.first is None and fix.max_ratio < localize.FACTOR, fix.line()
