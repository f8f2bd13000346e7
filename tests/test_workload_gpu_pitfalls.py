"""tf32-matmul and gpu-nondeterminism: GPU-only pitfalls. On a CPU they are listed, their GPU arms are
skipped with the reason, and the CPU arms (the control) reproduce each Keras backend. The mechanism each
GPU arm relies on is pinned in the program JAX builds: an explicit DEFAULT precision that the process's
"highest" setting does not override; a gradient that is a scatter-add against one that is a matmul."""

from __future__ import annotations

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from paritybench.experiment import data
from paritybench.workloads import registry
from paritybench.workloads.gpu_nondeterminism import jax_model as bag
from paritybench.workloads.tf32_matmul import jax_model as mm

from .conftest import run_cli

CPU = {"JAX_PLATFORMS": "cpu"}  # never depend on a GPU: the GPU arms must be skipped here


def test_both_workloads_are_listed_with_gpu_only_port_arms():
    for name, port in (("tf32-matmul", "jax-default-precision"), ("gpu-nondeterminism", "jax-scatter")):
        assert name in registry.names()
        w = registry.load(name)
        gpu_arms = [a.name for a in w.arms if a.needs_gpu]
        assert gpu_arms == [port]
        assert not w.arm(w.fix).needs_gpu and not w.arm(w.reference).needs_gpu


def test_the_default_precision_arm_asks_for_default_even_when_the_process_says_highest():
    """paritybench's deterministic flags set JAX_DEFAULT_MATMUL_PRECISION=highest; an explicit per-dot
    Precision.DEFAULT is kept (only precision=None reads the process default)."""
    p = {k: jnp.asarray(v) for k, v in mm.init(0).items()}
    x = jnp.ones((4, 784), jnp.float32)
    with jax.default_matmul_precision("highest"):
        default = jax.jit(mm.apply_default).lower(p, x).as_text()
        highest = jax.jit(mm.apply_highest).lower(p, x).as_text()
    dots = [ln for ln in default.splitlines() if "dot_general" in ln]
    assert len(dots) == 3 and all("precision = [DEFAULT, DEFAULT]" in ln for ln in dots)
    assert sum("precision = [HIGHEST, HIGHEST]" in ln for ln in highest.splitlines()) == 3
    # on a CPU the two are the same float32 dot: the arm only means something on a GPU
    np.testing.assert_array_equal(mm.apply_default(p, x), mm.apply_highest(p, x))


def test_the_bag_is_the_same_sum_but_only_the_port_scatters_its_gradient():
    x, y = data.window(data.load_mnist(), 0, 100, normalize=True)
    p = {k: jnp.asarray(v) for k, v in bag.init(0).items()}
    np.testing.assert_allclose(bag.apply_gather(p, x), bag.apply_onehot(p, x), rtol=1e-5, atol=1e-6)

    def grad_of(apply):
        return jax.grad(lambda q: jnp.mean(jax.nn.softplus(apply(q, x)) - y * apply(q, x)))

    g_port, g_fix = grad_of(bag.apply_gather)(p), grad_of(bag.apply_onehot)(p)
    np.testing.assert_allclose(g_port["embedding/table"], g_fix["embedding/table"], atol=1e-7)
    port_jaxpr = str(jax.make_jaxpr(grad_of(bag.apply_gather))(p))
    fix_jaxpr = str(jax.make_jaxpr(grad_of(bag.apply_onehot))(p))
    assert "scatter-add" in port_jaxpr  # atomics on a GPU unless --xla_gpu_deterministic_ops
    assert "scatter" not in fix_jaxpr and "gather" not in fix_jaxpr
    # every token id belongs to exactly one position: each sample sums exactly 784 rows
    t = np.asarray(bag.tokens(jnp.asarray(x)))
    assert t.shape == (100, 784) and np.array_equal(t // 4, np.broadcast_to(np.arange(784), t.shape))


@pytest.mark.slow
@pytest.mark.parametrize(
    "name,arms,emulation",
    [
        (
            "tf32-matmul",
            "jax-default-precision,jax-highest,jax-highest-keras-clip,keras-tensorflow,keras-jax,reference-f64",
            {"keras-tensorflow": "jax-highest", "keras-jax": "jax-highest-keras-clip"},
        ),
        (
            "gpu-nondeterminism",
            "jax-scatter,jax-onehot,jax-onehot-keras-clip,keras-tensorflow,keras-jax,reference-f64",
            {"keras-tensorflow": "jax-onehot", "keras-jax": "jax-onehot-keras-clip"},
        ),
    ],
)
def test_on_a_cpu_the_gpu_arm_is_skipped_and_the_control_reproduces_keras(tmp_path, name, arms, emulation):
    out = tmp_path / f"{name}.json"
    proc = run_cli(
        "run", "--workload", name, "--steps", "1", "--no-weights", "--out", str(out), "--arms", arms, env=CPU
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    a = json.loads(out.read_text())
    runs = {r["arm"]: r for r in a["runs"]}
    gpu_arm = arms.split(",")[0]
    assert runs[gpu_arm]["status"] == "skipped"
    assert runs[gpu_arm]["reason"].startswith("no GPU visible")
    assert all(r["status"] == "ok" for arm, r in runs.items() if arm != gpu_arm)
    mech = {m["keras_arm"]: m for m in a["mechanism"]}
    for keras_arm, jax_arm in emulation.items():
        assert mech[keras_arm]["emulation"] == jax_arm and mech[keras_arm]["reproduced"], mech[keras_arm]
