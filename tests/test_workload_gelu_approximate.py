"""gelu-approximate: jax.nn.gelu's tanh default vs the exact GELU of Keras's "gelu" and torch's nn.GELU(),
pinned on constructed cases (float64, against x Phi(x) and the tanh formula), the defaults read from the
installed sources, the preset (JAX arms only) and one step end to end against Keras (slow)."""

from __future__ import annotations

import ast
import importlib.util
import json
import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import torch
from scipy.special import ndtr

from paritybench import workloads
from paritybench.arms import f64, jax_trainer
from paritybench.arms.base import TrainSpec
from paritybench.experiment import data
from paritybench.workloads.base import resolve_ref
from paritybench.workloads.gelu_approximate import jax_model as jm
from paritybench.workloads.gelu_approximate import torch_model as tm

X = np.linspace(-6.0, 6.0, 120001)  # step 1e-4


def _tanh_formula(x):
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _in_x64(f, x):
    with jax.enable_x64(True):
        return np.asarray(f(jnp.asarray(x, jnp.float64)))


def test_jax_default_is_the_tanh_formula_and_the_fix_is_x_phi_x():
    """float64: jax.nn.gelu(h) is x/2 (1 + tanh(sqrt(2/pi)(x + 0.044715 x^3))); approximate=False is x Phi(x)."""
    np.testing.assert_allclose(_in_x64(jm.gelu_default, X), _tanh_formula(X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(_in_x64(jm.gelu_exact, X), X * ndtr(X), rtol=1e-12, atol=1e-14)


def test_the_two_gelus_differ_by_at_most_4_7e_4_and_their_slopes_by_8_7e_4():
    """The size of the pitfall, float64 on a 1e-4 grid over [-6, 6]: the values part by at most 4.73e-4
    (at x = -2.70), the derivatives by at most 8.68e-4 (at x = 2.02), and by 1.72e-5 at x = 0.5."""
    d = _in_x64(jm.gelu_default, X) - _in_x64(jm.gelu_exact, X)
    i = int(np.argmax(np.abs(d)))
    assert abs(d[i]) == pytest.approx(4.732e-4, abs=1e-7) and X[i] == pytest.approx(-2.699, abs=2e-3)
    with jax.enable_x64(True):
        slope = jax.vmap(jax.grad(lambda t: jm.gelu_default(t) - jm.gelu_exact(t)))(jnp.asarray(X))
    j = int(np.argmax(np.abs(np.asarray(slope))))
    assert abs(float(slope[j])) == pytest.approx(8.685e-4, abs=1e-6) and X[j] == pytest.approx(2.019, abs=2e-3)
    assert d[np.searchsorted(X, 0.5)] == pytest.approx(-1.722e-5, abs=1e-8)


def test_torch_default_is_exact_and_its_tanh_option_is_jax_default():
    """float64: torch.nn.GELU() (approximate='none') is x Phi(x); GELU(approximate='tanh') is jax.nn.gelu(h)."""
    t = torch.tensor(X, dtype=torch.float64)
    np.testing.assert_allclose(torch.nn.GELU()(t).numpy(), X * ndtr(X), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tm._TANH(t).numpy(), _in_x64(jm.gelu_default, X), rtol=1e-12, atol=1e-14)
    assert torch.nn.GELU().approximate == "none" and tm._EXACT.approximate == "none"


def _default(path: Path, function: str, arg: str):
    """The default value of ``function``'s ``arg`` in ``path``'s source (read, not imported)."""
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.FunctionDef) and node.name == function:
            args = node.args.args[len(node.args.args) - len(node.args.defaults) :]
            for a, d in zip(args, node.args.defaults, strict=True):
                if a.arg == arg:
                    return ast.literal_eval(d)
    raise AssertionError(f"{function}({arg}=...) not in {path}")


def test_keras_gelu_activation_is_exact_by_default_but_keras_ops_gelu_is_not():
    """The installed Keras: ``keras.activations.gelu`` (what ``Dense(activation="gelu")`` resolves to)
    defaults to approximate=False; ``keras.ops.gelu`` and every backend's ``gelu`` to True."""
    root = Path(importlib.util.find_spec("keras").submodule_search_locations[0]) / "src"
    assert _default(root / "activations" / "activations.py", "gelu", "approximate") is False
    assert _default(root / "ops" / "nn.py", "gelu", "approximate") is True
    for backend in ("jax", "tensorflow", "torch"):
        assert _default(root / "backend" / backend / "nn.py", "gelu", "approximate") is True


def test_preset_literal_port_leaves_the_exact_trajectory_and_the_fix_stays_on_it():
    """The preset's JAX arms against the float64 exact-GELU arbiter after its ten steps: the port 8.4e-6 away
    (max |dw|), the fix within float32 rounding (measured 6.0e-8 on the 2-core CPU)."""
    w = workloads.load("gelu-approximate")
    x, y = data.window(data.load_mnist(), 0, w.data.n, normalize=True, labels=w.data.labels)
    init = resolve_ref(w.model.init)(0)

    spec = TrainSpec(steps=w.training.steps, lr=w.training.lr)
    ref = f64.train_many(w, w.arm("reference-f64"), [init], x, y, spec)[0].final_weights

    def gap(arm):
        fw = jax_trainer.train_many(w, w.arm(arm), [init], x, y, spec)[0].final_weights
        return max(float(np.max(np.abs(fw[k] - ref[k]))) for k in ref)

    port, fix = gap("jax-gelu-literal"), gap("jax-gelu-exact")
    print(f"\nmax|w - w_f64| after {spec.steps} steps: port {port:.3g}, fix {fix:.3g}")
    assert port > 5e-6
    assert fix < 2e-7 and port > 40 * fix


@pytest.mark.slow
def test_end_to_end_keras_gelu_is_exact_and_its_tanh_option_is_the_port(tmp_path, api_run):
    """One step through api.run: Keras-TF's Dense(activation="gelu") is reproduced by the exact-GELU fix, its
    gelu(approximate=True) by the literal port (1e-6)."""
    out = tmp_path / "gelu.json"
    api_run(
        "gelu-approximate",
        steps=1,
        weights=False,
        out=out,
        arms="jax-gelu-literal,jax-gelu-exact,keras-tensorflow,keras-tensorflow-gelu-tanh,reference-f64",
    )  # raises where an arm errors (the CLI's exit 1)
    mech = {m["keras_arm"]: m for m in json.loads(out.read_text())["mechanism"]}
    assert {k: m["emulation"] for k, m in mech.items()} == {
        "keras-tensorflow": "jax-gelu-exact",
        "keras-tensorflow-gelu-tanh": "jax-gelu-literal",
    }
    for m in mech.values():
        assert m["reproduced"] and m["max_abs_diff_step1"] <= 1e-6, m
