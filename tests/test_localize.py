"""issue 12: ``paritybench localize`` names the step, phase and tensor where each arm leaves the float64
arbiter, measured against the float32 noise floor at the same (teacher-forced) weights."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


def _localize(workload: str, arms: list[str], steps: int = 2, n: int | None = None):
    """In-process localize of each named arm against the workload's reference (main-process arms)."""
    from paritybench import workloads
    from paritybench.experiment import data
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.experiment.weights import copy_weights
    from paritybench.pipeline import localize
    from paritybench.workloads import resolve_ref

    w = workloads.load(workload)
    n = n or w.data.n
    ds = data.load_mnist()
    x, y = data.window(ds, 0, n, w.data.normalize, labels=w.data.labels)
    xh = yh = None
    if w.data.holdout:
        xh, yh = data.window(ds, n, w.data.holdout, w.data.normalize, labels=w.data.labels)
    init = copy_weights(resolve_ref(w.model.init)(0, False), w.model.params)
    ctx = localize.Context(
        w, w.training.lr, steps, x, y, init, NumericsOptions(), n=n, normalize=w.data.normalize, xh=xh, yh=yh
    )
    cache: dict = {}
    return {
        a.name: localize.localize_pair(ctx, a, b, cache)
        for a, b in localize.pairs_for(w, tuple(arms))
        if a.name in arms
    }


def test_seed_bce_answers():
    r = _localize("seed-bce", ["jax-naive", "jax-seed-stable", "jax-keras-clip", "jax-keras-torch-clip", "jax-logits"])
    for arm in ("jax-seed-stable", "jax-keras-clip", "jax-keras-torch-clip"):
        f = r[arm].first
        assert (f.step, f.phase, f.tensor) == (0, "loss", "d loss/d logit"), r[arm].line()
    # measured: the clip zeroes 838 samples' gradient; float64's sigmoid(z) - y is exactly 0 for 10
    # correctly classified samples with |z| > ~37 (1 - sigmoid underflows below float64's half-ulp of 1)
    assert "d loss/d logit: 838 of 1000 samples zero (reference: 10)" in r["jax-seed-stable"].line()
    f = r["jax-naive"].first
    assert (f.step, f.phase, f.tensor, f.nonfinite) == (0, "loss", "value", True), r["jax-naive"].line()
    assert r["jax-logits"].first is None and "never part" in r["jax-logits"].line()


@pytest.mark.parametrize(
    "workload,arm,phase,tensors",
    [
        # the first convolution's output is the first tensor that parts (issue 12: "step 0 forward at the first
        # convolution"), then its ReLU and the logits
        ("same-padding", "jax-torch-pad", "forward", ["conv", "conv/relu", "logits"]),
        ("label-shape", "jax-broadcast", "loss", None),
        ("adam-epsilon", "jax-adam-literal", "update", None),
        ("l2-weight-decay", "jax-sgd-decay-literal", "update", ["dense_0/kernel", "dense_1/kernel"]),
    ],
)
def test_catalogue_pitfall_phase(workload, arm, phase, tensors):
    r = _localize(workload, [arm])[arm]
    assert r.first is not None and r.first.step == 0 and r.first.phase == phase, r.line()
    if tensors is not None:  # l2: the kernels only, never a bias
        assert r.parted_tensors == tensors, r.line()
        assert r.first.tensor == tensors[0], r.line()


@pytest.mark.parametrize(
    "workload,arm",
    [
        ("same-padding", "jax-same"),
        ("adam-epsilon", "jax-keras-adam"),
        ("l2-weight-decay", "jax-sgd-l2"),
        ("label-shape", "jax-reshape"),
        ("batchnorm-momentum", "jax-keras-bn"),
    ],
)
def test_fixes_never_part(workload, arm):
    """The fixes implement the reference's convention in float32: they stay under the factor."""
    from paritybench.pipeline.localize import FACTOR

    r = _localize(workload, [arm])[arm]
    assert r.first is None and r.max_ratio < FACTOR, r.line()


def test_noise_floor_flags_a_one_ulp_scale_gap():
    """The check can fail: a tensor 1000x the floor apart parts, one at the floor does not."""
    import numpy as np

    from paritybench.pipeline.localize import _compare

    ref64 = np.linspace(1, 2, 100)
    ref32 = ref64 + 1e-7
    assert not _compare(0, "forward", "t", ref64 + 1e-7, ref64, ref32, ref64).parts
    assert _compare(0, "forward", "t", ref64 + 1e-4, ref64, ref32, ref64).parts
    bad = _compare(0, "loss", "value", np.nan, 1.0, 1.0, 1.0)
    assert bad.parts and bad.nonfinite


def test_keras_arms_and_cli(tmp_path):
    """Keras arms through their backend's autodiff: keras-tensorflow (logits cache) never parts,
    keras-jax (clipped p) parts at step 0 in d loss/d logit; the JSON record and --out."""
    out = tmp_path / "loc.json"
    proc = run_cli("localize", "--arms", "keras-tensorflow,keras-jax,jax-logits", "--steps", "2", "--out", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(out.read_text())
    pairs = {p["a"]: p for p in rec["pairs"]}
    assert pairs["keras-tensorflow"]["first"] is None, pairs["keras-tensorflow"]["line"]
    f = pairs["keras-jax"]["first"]
    assert (f["step"], f["phase"], f["tensor"]) == (0, "loss", "d loss/d logit"), pairs["keras-jax"]["line"]
    assert "keras-tensorflow vs reference-f64: never part" in proc.stdout
    again = run_cli("localize", "--arms", "jax-logits", "--steps", "1", "--out", str(out))
    assert again.returncode == 2 and "already exists" in again.stderr


def test_example_workload_runs_unchanged(tmp_path):
    proc = run_cli("localize", "--workload", "examples/tanh_adam.py", "--steps", "2", "--format", "json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(proc.stdout)
    assert rec["workload"]["name"] and rec["pairs"], rec


def test_adam_epsilon_update_parts_before_the_moments(tmp_path):
    """adam-epsilon: the literal port's (optax.adam, eps after the bias correction) update of dense_0/kernel
    parts at step 0 while its moments, which epsilon never enters, stay at the floor; Keras-TF's own
    momentum/velocity variables and its JAX emulation's moments never part."""
    from paritybench.pipeline.localize import FACTOR

    r = _localize("adam-epsilon", ["jax-adam-literal"])["jax-adam-literal"]
    assert (r.first.step, r.first.phase, r.first.tensor) == (0, "update", "dense_0/kernel"), r.line()
    moments = [c for c in r.checks if c.tensor.startswith("adam/")]
    assert {c.tensor for c in moments} == {
        f"adam/{m}/{p}"
        for m in ("mu", "nu")
        for p in ("dense_0/kernel", "dense_0/bias", "dense_1/kernel", "dense_1/bias")
    }
    assert all(c.phase == "update" and not c.parts for c in moments), max(c.ratio for c in moments)
    out = tmp_path / "adam.json"
    proc = run_cli(
        "localize",
        "--workload",
        "adam-epsilon",
        "--arms",
        "keras-tensorflow,jax-keras-adam",
        "--steps",
        "2",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pair = json.loads(out.read_text())["pairs"][0]
    km = [c for c in pair["checks"] if c["tensor"].startswith("adam/")]
    assert len(km) == 2 * 8, [c["tensor"] for c in km]  # both moments of 4 parameters at 2 steps
    assert all(c["ratio"] < FACTOR for c in km), max(c["ratio"] for c in km)
    assert pair["first"] is None, pair["line"]


def test_batchnorm_momentum_parts_in_the_moving_statistics_and_evaluation():
    """batchnorm-momentum, minibatch steps with the moving statistics teacher-forced (each arm updates A's
    state from the step's batch): the literal port (torch's momentum 0.1 in a Keras-convention BN) parts at
    step 0 in the moving statistics and in the inference-mode forward pass on the held-out window that reads
    them, never in the training forward pass, the loss or the gradients (those use the batch's statistics);
    the torch-written port (epsilon 1e-5) parts already in the training forward pass."""
    lit = _localize("batchnorm-momentum", ["jax-momentum-literal"])["jax-momentum-literal"]
    assert (lit.first.step, lit.first.phase, lit.first.tensor) == (0, "update", "bn/moving_mean"), lit.line()
    assert lit.parted_tensors == ["bn/moving_mean", "bn/moving_variance"], lit.line()
    assert lit.later_phases == ["evaluation: holdout logits"], lit.line()
    training = [
        c
        for c in lit.checks
        if c.phase in ("forward", "loss", "backward") or (c.phase == "update" and not c.tensor.startswith("bn/moving"))
    ]
    assert training and not any(c.parts for c in training), max(c.ratio for c in training)
    assert {c.step for c in lit.checks} == {0, 1}
    torch_bn = _localize("batchnorm-momentum", ["jax-torch-bn"])["jax-torch-bn"]
    assert (torch_bn.first.step, torch_bn.first.phase) == (0, "forward"), torch_bn.line()


def test_l2_keras_backward_is_the_data_gradient(tmp_path):
    """l2-weight-decay's Keras arms: the backward phase is the data loss's gradient (the JAX reference keeps
    the 2 lam w term in its optimizer chain), so Keras-TF with the reference's l2(lam) never parts, and the
    one with l2(lam / 2) parts where the literal port does: step 0, the kernels' update."""
    out = tmp_path / "l2.json"
    proc = run_cli(
        "localize",
        "--workload",
        "l2-weight-decay",
        "--arms",
        "keras-tensorflow,keras-tensorflow-l2-half,jax-sgd-l2",
        "--steps",
        "1",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    pairs = {p["a"]: p for p in json.loads(out.read_text())["pairs"]}
    assert pairs["keras-tensorflow"]["first"] is None, pairs["keras-tensorflow"]["line"]
    half = pairs["keras-tensorflow-l2-half"]
    assert (half["first"]["step"], half["first"]["phase"]) == (0, "update"), half["line"]
    assert half["tensors_at_first"] == ["dense_0/kernel", "dense_1/kernel"], half["line"]


def test_bytes_per_step_counts_layers_and_moments():
    """seed-bce, n 1000: 786,001 parameters x 5 (weights, gradient, update, two moments), the two 1000 x 1000
    hidden outputs (pre-activation, ReLU), logits and d loss/d logit, at 8 bytes: 47.5 MB per step and arm."""
    from paritybench import workloads
    from paritybench.pipeline.localize import bytes_per_step

    assert bytes_per_step(workloads.load("seed-bce"), 1000, 1) == 8 * (5 * 786_001 + 2 * 1000 * 1000 + 2 * 1000)
    bn = workloads.load("batchnorm-momentum")  # + the moving statistics twice and the held-out logits
    params = 784 * 64 + 64 + 64 + 64 + 64 * 10 + 10
    assert bytes_per_step(bn, 512, 1) == 8 * (5 * params + 2 * 128 + 2 * 512 * 10 + 1000 * 10)
