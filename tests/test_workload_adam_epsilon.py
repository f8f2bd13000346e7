"""adam-epsilon: Keras's epsilon-hat vs optax's epsilon, pinned on constructed cases (float64, exact
relations), on the workload's preset (JAX arms only), and end to end against Keras (slow)."""

from __future__ import annotations

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from paritybench import workloads
from paritybench.arms import f64, jax_trainer
from paritybench.arms.base import TrainSpec
from paritybench.experiment import data
from paritybench.workloads.adam_epsilon import jax_model as jm
from paritybench.workloads.adam_epsilon.workload import BETA_2, EPSILON, optax_equivalent_eps
from paritybench.workloads.base import resolve_ref

# The research notes' test vector: one ordinary coordinate, three small ones, down to a 1e-6 gradient.
W0 = np.array([1.0, -2.0, 0.5, 3e-3])
GRADS = [(k + 1) * np.array([1e-3, -2e-4, 5e-5, 1e-6]) for k in range(5)]


def _updates(opt, grads, dtype=np.float64):
    """The per-step updates of ``opt`` on the gradient sequence, in float64 (x64 on for this computation)."""
    with jax.enable_x64(True):
        params = {"w": jnp.asarray(W0, dtype)}
        state = opt.init(params)
        out = []
        for g in grads:
            u, state = opt.update({"w": jnp.asarray(g, dtype)}, state, params)
            params = optax.apply_updates(params, u)
            out.append(np.asarray(u["w"], np.float64))
        return out


def test_effective_epsilon_relation_values():
    """eps_t = eps / sqrt(1 - b2^t): 31.6 eps at step 1, 22.4 eps at 2, 18.3 eps at 3, toward eps."""
    rows = [(t, optax_equivalent_eps(EPSILON, t)) for t in (1, 2, 3, 10, 100, 1000, 10000)]
    print("\nKeras Adam(epsilon=1e-7) = optax.adam with eps_t at step t:")
    for t, e in rows:
        print(f"  t={t:>5}  eps_t = {e:.4e}  ({e / EPSILON:.2f} x eps)")
    assert optax_equivalent_eps(EPSILON, 1) == pytest.approx(EPSILON / math.sqrt(1 - BETA_2), rel=1e-15)
    assert [round(e / EPSILON, 1) for _, e in rows[:3]] == [31.6, 22.4, 18.3]
    assert 1.0 < rows[-1][1] / EPSILON < 1.0001  # b2^10000 = 4.5e-5
    with pytest.raises(ValueError):
        optax_equivalent_eps(EPSILON, 0)


@pytest.mark.parametrize("eps", [1e-7, 1.0])
def test_keras_adam_is_optax_adam_with_eps_over_sqrt_1_minus_b2t_every_step(eps):
    """The exact relation, step by step, in float64: Keras's formula == optax.adam whose eps at step t is
    eps / sqrt(1 - b2^t) (set through inject_hyperparams), to 1e-12 relative."""
    keras = _updates(jm.keras_adam(0.1, epsilon=eps), GRADS)
    with jax.enable_x64(True):
        opt = optax.inject_hyperparams(optax.adam)(learning_rate=0.1, b2=BETA_2, eps=eps)
        params = {"w": jnp.asarray(W0)}
        state = opt.init(params)
        for t, g in enumerate(GRADS, start=1):
            state.hyperparams["eps"] = jnp.asarray(optax_equivalent_eps(eps, t))
            u, state = opt.update({"w": jnp.asarray(g)}, state, params)
            params = optax.apply_updates(params, u)
            np.testing.assert_allclose(np.asarray(u["w"]), keras[t - 1], rtol=1e-12, atol=0)


def test_literal_port_step1_differs_by_the_factor_on_epsilon():
    """Step 1 in closed form: optax.adam moves a coordinate by lr*g/(|g| + eps), Keras by
    lr*g/(|g| + eps/sqrt(1 - b2)); with eps = 1e-7 the 1e-6 gradient moves 0.091 vs 0.024 (lr 0.1)."""
    lr = 0.1
    g = GRADS[0]
    port = _updates(optax.adam(lr, eps=EPSILON), [g])[0]
    keras = _updates(jm.keras_adam(lr), [g])[0]
    np.testing.assert_allclose(port, -lr * g / (np.abs(g) + EPSILON), rtol=1e-12)
    np.testing.assert_allclose(keras, -lr * g / (np.abs(g) + EPSILON / math.sqrt(1 - BETA_2)), rtol=1e-12)
    assert port[3] == pytest.approx(-0.0909, abs=1e-4) and keras[3] == pytest.approx(-0.0240, abs=1e-4)
    assert abs(port[0] - keras[0]) < 4e-3 * lr  # a 1e-3 gradient: 3.2e-6 vs 1e-3 is a 0.3% difference


def test_float32_emulations_agree():
    """The two float32 fixes (Keras's op order; optax with the scheduled eps) agree to rounding."""
    a = _updates(jm.keras_adam(1e-3), GRADS, np.float32)
    b = _updates(jm.optax_adam_eps_scaled(1e-3), GRADS, np.float32)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x, y, atol=1e-9, rtol=1e-5)


def test_preset_literal_port_diverges_and_fix_matches_reference():
    """The workload's preset (JAX arms only): the port ends far from the float64 Keras-convention
    reference, both fixes within float32 rounding of it."""
    w = workloads.load("adam-epsilon")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)
    spec = TrainSpec(steps=w.training.steps, lr=w.training.lr)
    ref = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0].final_weights

    def gap(arm):
        fw = jax_trainer.train_many(w, w.arm(arm), [init], x, y, spec)[0].final_weights
        return max(float(np.max(np.abs(fw[k] - ref[k]))) for k in ref)

    port, fix, scaled = gap("jax-adam-literal"), gap("jax-keras-adam"), gap("jax-adam-eps-scaled")
    print(f"\nmax|w - w_f64| after {spec.steps} steps: port {port:.3g}, fix {fix:.3g}, eps-scaled {scaled:.3g}")
    assert port > 1e-3
    assert fix < 1e-6 and scaled < 1e-6


@pytest.mark.slow
def test_end_to_end_keras_backends_reproduced(tmp_path, api_run):
    """One step through api.run: each Keras backend's Adam is reproduced by its JAX emulation (1e-6)."""
    out = tmp_path / "ae.json"
    api_run(
        "adam-epsilon",
        steps=1,
        weights=False,
        out=out,
        arms="jax-keras-adam,jax-keras-adam-clip,keras-tensorflow,keras-jax,reference-f64",
    )  # raises where an arm errors (the CLI's exit 1)
    mech = {m["keras_arm"]: m for m in json.loads(out.read_text())["mechanism"]}
    assert set(mech) == {"keras-tensorflow", "keras-jax"}
    for m in mech.values():
        assert m["reproduced"] and m["max_abs_diff_step1"] <= 1e-6, m
