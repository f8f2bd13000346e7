"""l2-weight-decay: Keras's l2(lam) gradient 2*lam*w vs add_decayed_weights(lam)'s lam*w, exactly on a
constructed case; coupled (Adam + L2) vs decoupled (AdamW) decay; the fix agreeing with the reference on the
preset; and end to end against Keras (slow)."""

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
from paritybench.experiment.weights import load_weights_npz
from paritybench.workloads.base import resolve_ref
from paritybench.workloads.l2_weight_decay import jax_model as jm
from paritybench.workloads.l2_weight_decay.workload import LAM

LR = 0.1
KERNEL = np.array([[1.0, -2.0], [0.5, 3e-3]])
BIAS = np.array([0.25, -4.0])


def _step(opt, grad_scale=0.0, dtype=np.float64):
    """One update of ``opt`` at {kernel, bias} with the data gradient ``grad_scale * ones``."""
    with jax.enable_x64(True):
        params = {"d/kernel": jnp.asarray(KERNEL, dtype), "d/bias": jnp.asarray(BIAS, dtype)}
        grads = jax.tree.map(lambda p: jnp.full_like(p, grad_scale), params)
        u, _ = opt.update(grads, opt.init(params), params)
        return {k: np.asarray(v, np.float64) for k, v in u.items()}


def test_factor_of_two_exactly_and_biases_untouched():
    """Zero data gradient: Keras's l2(lam) moves a kernel by -lr*2*lam*w, the port by -lr*lam*w. The ratio
    is exactly 2 (scaling by two is exact in binary floating point); biases do not move in either."""
    keras, port = _step(jm.sgd_l2(LR)), _step(jm.sgd_decay_literal(LR))
    np.testing.assert_array_equal(keras["d/kernel"], -LR * (2 * LAM * KERNEL))
    np.testing.assert_array_equal(port["d/kernel"], -LR * (LAM * KERNEL))
    np.testing.assert_array_equal(keras["d/kernel"] / port["d/kernel"], np.full_like(KERNEL, 2.0))
    assert not keras["d/bias"].any() and not port["d/bias"].any()
    # the fix the other way: l2(lam/2) is the port's decay
    half = optax.chain(optax.add_decayed_weights(2 * (LAM / 2), mask=jm.kernels), optax.sgd(LR))
    np.testing.assert_array_equal(_step(half)["d/kernel"], port["d/kernel"])


def test_coupled_l2_is_normalised_away_by_adam_decoupled_is_not():
    """Zero data gradient, step 1. Adam + L2 (coupled): the decay gradient goes through Adam's
    normalisation, every kernel moves by lr*g/(|g| + eps_hat) ~ lr*sign(w) whatever |w| (biases 0).
    AdamW (decoupled): exactly -lr*lam*w, biases included (Keras decays every variable)."""
    coupled = _step(jm.adam_l2(LR / jm.ADAM_LR_SCALE))
    g = 2 * LAM * KERNEL
    np.testing.assert_allclose(coupled["d/kernel"], -LR * g / (np.abs(g) + 1e-7 / np.sqrt(1 - 0.999)), rtol=1e-12)
    assert np.all(np.abs(coupled["d/kernel"]) > 0.99 * LR * 0.9)  # ~lr for w = 1 and for w = 3e-3 alike
    assert not coupled["d/bias"].any()
    decoupled = _step(jm.keras_adamw(LR / jm.ADAM_LR_SCALE))
    np.testing.assert_allclose(decoupled["d/kernel"], -LR * LAM * KERNEL, rtol=1e-15)
    np.testing.assert_allclose(decoupled["d/bias"], -LR * LAM * BIAS, rtol=1e-15)
    ratio = coupled["d/kernel"] / decoupled["d/kernel"]
    assert ratio.max() / ratio.min() > 100  # proportional to w in one, to sign(w) in the other


def test_preset_fix_matches_reference_port_does_not():
    """The preset (JAX arms): the fix within float32 rounding of the float64 Keras-convention reference,
    the port well above it; Adam+L2 and AdamW end apart."""
    w = workloads.load("l2-weight-decay")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)
    spec = TrainSpec(steps=w.training.steps, lr=w.training.lr)
    ref = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0].final_weights
    fin = {
        a: jax_trainer.train_many(w, w.arm(a), [init], x, y, spec)[0].final_weights
        for a in ("jax-sgd-decay-literal", "jax-sgd-l2", "jax-adam-l2", "jax-adamw")
    }

    def gap(a, b):
        return max(float(np.max(np.abs(a[k] - b[k]))) for k in a)

    port, fix = gap(fin["jax-sgd-decay-literal"], ref), gap(fin["jax-sgd-l2"], ref)
    adam = gap(fin["jax-adam-l2"], fin["jax-adamw"])
    print(f"\nmax|w - w_f64|: port {port:.3g}, fix {fix:.3g}; Adam+L2 vs AdamW {adam:.3g}")
    assert fix < 1e-6 and port > 1e-4 and adam > 5e-3


@pytest.mark.slow
def test_end_to_end_keras_factor_two_and_mechanism(tmp_path, api_run):
    """One step through api.run: each Keras arm is reproduced by its emulation (2*lam*w inside), and
    Keras with l2(lam/2) lands on the port (lam*w) within float32 rounding."""
    out = tmp_path / "l2.json"
    arms = (
        "jax-sgd-decay-literal,jax-sgd-l2,jax-sgd-l2-clip,keras-tensorflow,keras-jax,keras-tensorflow-l2-half,"
        "jax-adam-l2,keras-tensorflow-adam-l2,jax-adamw,keras-tensorflow-adamw,reference-f64"
    )
    api_run("l2-weight-decay", steps=1, out=out, arms=arms)  # raises where an arm errors (the CLI's exit 1)
    art = json.loads(out.read_text())
    mech = {m["keras_arm"]: m for m in art["mechanism"]}
    assert set(mech) == {"keras-tensorflow", "keras-jax", "keras-tensorflow-adam-l2", "keras-tensorflow-adamw"}
    for m in mech.values():
        assert m["reproduced"] and m["max_abs_diff_step1"] <= 1e-6, m
    groups = load_weights_npz(out.parent / art["weights_file"])
    final = {key.split("/")[0] if "/" in key else key: w for key, w in groups.items()}
    half, port = _find(final, "keras-tensorflow-l2-half"), _find(final, "jax-sgd-decay-literal")
    assert max(float(np.max(np.abs(half[k] - port[k]))) for k in port) <= 1e-6


def _find(groups: dict, arm: str) -> dict:
    hits = [w for key, w in groups.items() if key.startswith(arm) and not key.startswith(arm + "-")]
    assert len(hits) == 1, sorted(groups)
    return hits[0]
