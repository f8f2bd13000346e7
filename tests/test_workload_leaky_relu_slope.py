"""leaky-relu-slope: Keras's LeakyReLU() slope 0.3 (0.2 for its activation function) vs JAX's and torch's 0.01,
pinned on constructed cases (float64), the defaults read from the installed sources, the preset (JAX arms only)
and one step end to end against Keras (slow)."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import json
from pathlib import Path

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
from paritybench.workloads.leaky_relu_slope import jax_model as jm
from paritybench.workloads.leaky_relu_slope import torch_model as tm

H = np.array([-3.0, -0.5, -1e-3, 2e-3, 0.7, 4.0])


def _x64(f, x):
    with jax.enable_x64(True):
        return np.asarray(f(jnp.asarray(x, jnp.float64)))


def _default(path: Path, function: str, arg: str):
    """The default of ``function``'s ``arg`` in ``path``'s source (read, not imported)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
            for a, d in zip(args, node.args.defaults, strict=True):
                if a.arg == arg:
                    return ast.literal_eval(d)
    raise AssertionError(f"{function}({arg}=...) not in {path}")


def test_the_four_defaults_as_installed():
    """Keras's layer 0.3, Keras's activation function (and keras.ops) 0.2, jax.nn 0.01, torch 0.01."""
    root = Path(importlib.util.find_spec("keras").submodule_search_locations[0]) / "src"
    assert _default(root / "layers" / "activations" / "leaky_relu.py", "__init__", "negative_slope") == 0.3
    assert _default(root / "activations" / "activations.py", "leaky_relu", "negative_slope") == 0.2
    assert _default(root / "ops" / "nn.py", "leaky_relu", "negative_slope") == 0.2
    assert inspect.signature(jax.nn.leaky_relu).parameters["negative_slope"].default == 0.01
    assert torch.nn.LeakyReLU().negative_slope == 0.01 and tm._PORT.negative_slope == 0.01


def test_each_slope_scales_the_negative_side_only():
    """float64: the port passes 0.01 h for h < 0, the fix 0.3 h, the activation function 0.2 h; h > 0 alike."""
    port = _x64(jm.port_activation, H)
    keras = _x64(lambda h: jm._KERAS_LAYER(h), H)
    act = _x64(lambda h: jm._KERAS_ACTIVATION(h), H)
    neg = H < 0
    np.testing.assert_array_equal(port[~neg], H[~neg])
    np.testing.assert_array_equal(keras[~neg], H[~neg])
    np.testing.assert_allclose(port[neg], 0.01 * H[neg], rtol=1e-15)
    np.testing.assert_allclose(keras[neg], 0.3 * H[neg], rtol=1e-15)
    np.testing.assert_allclose(act[neg], 0.2 * H[neg], rtol=1e-15)
    # the backward pass: d/dh is the slope on the negative side, 30x smaller in the port
    with jax.enable_x64(True):
        g_port = jax.vmap(jax.grad(jm.port_activation))(jnp.asarray(H))
        g_keras = jax.vmap(jax.grad(jm._KERAS_LAYER))(jnp.asarray(H))
    np.testing.assert_allclose(np.asarray(g_keras)[neg] / np.asarray(g_port)[neg], 30.0, rtol=1e-12)


def test_torch_matches_jax_at_each_slope_but_not_its_gradient_at_zero():
    """float64: torch.nn.LeakyReLU() is jax.nn.leaky_relu(h) and LeakyReLU(0.3) the fix, values and gradients
    off zero; at exactly h = 0 jax's gradient is 1 (``where(x >= 0, x, slope x)``) and torch's the slope."""
    t = torch.tensor(H, dtype=torch.float64, requires_grad=True)
    np.testing.assert_allclose(tm._PORT(t).detach().numpy(), _x64(jm.port_activation, H), rtol=1e-15)
    np.testing.assert_allclose(tm._KERAS(t).detach().numpy(), _x64(jm._KERAS_LAYER, H), rtol=1e-15)
    z = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    tm._KERAS(z).sum().backward()
    assert float(z.grad[0]) == pytest.approx(0.3) and float(jax.grad(jm._KERAS_LAYER)(0.0)) == 1.0


def test_preset_half_the_hidden_units_are_negative_and_none_is_zero():
    """At step 0 of the preset (Keras's initial weights, pixels/255) 47.9% of the hidden pre-activations are
    negative (the share the slope acts on) and none is exactly 0 (where JAX's and torch's gradients differ)."""
    w = workloads.load("leaky-relu-slope")
    x, _ = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)
    pre = np.asarray(jm.layers(init, x)["dense_0"])
    share = float(np.mean(pre < 0))
    print(f"\nnegative hidden pre-activations at step 0: {share:.3f}")
    assert share == pytest.approx(0.479, abs=0.002) and not np.any(pre == 0)


def test_preset_literal_port_leaves_the_keras_trajectory_and_the_fix_stays_on_it():
    """The preset's JAX arms against the float64 slope-0.3 arbiter after ten steps: the port 1.3e-2 away
    (max |dw|; 0.668 vs 0.680 training accuracy in the baseline), the fix within float32 rounding (8.9e-8)."""
    w = workloads.load("leaky-relu-slope")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)
    spec = TrainSpec(steps=w.training.steps, lr=w.training.lr)
    ref = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0].final_weights

    def gap(arm):
        fw = jax_trainer.train_many(w, w.arm(arm), [init], x, y, spec)[0].final_weights
        return max(float(np.max(np.abs(fw[k] - ref[k]))) for k in ref)

    port, fix = gap("jax-leaky-literal"), gap("jax-leaky-keras")
    print(f"\nmax|w - w_f64| after {spec.steps} steps: port {port:.3g}, fix {fix:.3g}")
    assert port > 1e-3 and fix < 2e-7


@pytest.mark.slow
def test_end_to_end_keras_slopes_are_reproduced(tmp_path, api_run):
    """One step through api.run: Keras-TF's LeakyReLU() is reproduced by the slope-0.3 fix,
    Dense(activation="leaky_relu") by slope 0.2 and LeakyReLU(negative_slope=0.01) by the literal port (1e-6)."""
    out = tmp_path / "leaky.json"
    api_run(
        "leaky-relu-slope",
        steps=1,
        weights=False,
        out=out,
        arms="jax-leaky-literal,jax-leaky-keras,jax-leaky-activation,keras-tensorflow,keras-tensorflow-activation,"
        "keras-tensorflow-slope-port,reference-f64",
    )  # raises where an arm errors (the CLI's exit 1)
    mech = {m["keras_arm"]: m for m in json.loads(out.read_text())["mechanism"]}
    assert {k: m["emulation"] for k, m in mech.items()} == {
        "keras-tensorflow": "jax-leaky-keras",
        "keras-tensorflow-activation": "jax-leaky-activation",
        "keras-tensorflow-slope-port": "jax-leaky-literal",
    }
    for m in mech.values():
        assert m["reproduced"] and m["max_abs_diff_step1"] <= 1e-6, m
