"""issue 12: ``paritybench conventions`` reads each arm's settings from its code and names the one that differs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli


def _main_table(workload: str, arms=()):
    from paritybench import workloads
    from paritybench.experiment.flags import NumericsOptions
    from paritybench.pipeline import conventions

    w = workloads.load(workload)
    main = tuple(a for a in w.resolve_arms(arms) if a.kind != "keras")
    return conventions.report(w, main, w.training.lr, NumericsOptions())


def test_optax_hyperparameters_read_from_the_code():
    t = _main_table("adam-epsilon")["arms"]
    lit = t["jax-adam-literal"]
    assert lit["optimizer.epsilon"] == 1e-7 and lit["optimizer.beta_2"] == 0.999
    assert lit["optimizer.learning_rate"] == 1e-3
    assert lit["optimizer.epsilon placement"].startswith("sqrt(v_hat) + eps, after bias correction")
    # inject_hyperparams: the scheduled eps at step 1, eps / sqrt(1 - 0.999)
    assert t["jax-adam-eps-scaled"]["optimizer.epsilon"] == pytest.approx(1e-7 / (1 - 0.999) ** 0.5, rel=1e-5)


@pytest.mark.parametrize(
    "workload,row",
    [
        ("adam-epsilon", "optimizer.epsilon placement"),
        ("l2-weight-decay", "weight decay"),
        ("same-padding", "padding"),
        ("label-shape", "declared: labels"),
    ],
)
def test_differing_setting_named(workload, row):
    assert row in _main_table(workload)["differing"]


def test_weight_decay_coupling_read():
    t = _main_table("l2-weight-decay")["arms"]
    assert (
        t["jax-sgd-decay-literal"]["weight decay"] == "0.01 x w, coupled (added to the gradient), masked "
        "(some parameters only)"
    )
    assert t["jax-sgd-l2"]["weight decay"].startswith("0.02 x w, coupled")
    assert "decoupled" in t["jax-adamw"]["weight decay"]


@pytest.mark.parametrize(
    "workload", ["seed-bce", "softmax-ce", "adam-epsilon", "l2-weight-decay", "label-shape", "same-padding"]
)
def test_declarations_match_the_code(workload):
    from paritybench.analysis.conventions_table import declaration_mismatches

    assert declaration_mismatches(_main_table(workload)["arms"]) == []


def test_a_wrong_declaration_is_caught():
    from paritybench.analysis.conventions_table import declaration_mismatches

    t = _main_table("adam-epsilon", ("jax-adam-literal",))["arms"]
    t["jax-adam-literal"]["declared: optimizer"] = "optax.adam, eps 1e-08 on the bias-corrected sqrt(v_hat)"
    assert declaration_mismatches(t) == ["jax-adam-literal: declared optimizer says eps 1e-08, the code uses 1e-07"]


def test_keras_arm_read_from_get_config_and_example():
    proc = run_cli(
        "conventions", "--workload", "adam-epsilon", "--arms", "jax-adam-literal,keras-tensorflow", "--format", "json"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rec = json.loads(proc.stdout)
    k = rec["arms"]["keras-tensorflow"]
    assert k["optimizer"] == "Adam" and k["optimizer.epsilon"] == 1e-7
    assert k["optimizer.epsilon placement"].endswith("(epsilon-hat)")
    assert "optimizer.epsilon placement" in rec["differing"] and rec["mismatched declarations"] == []
    ex = run_cli("conventions", "--workload", "examples/tanh_adam.py", "--format", "json")
    assert ex.returncode == 0, ex.stderr[-3000:]
    erec = json.loads(ex.stdout)
    assert "optimizer.epsilon placement" in erec["differing"]
    # issue 19: the same builder read in two worker processes is one name (module:qualname), not two addresses
    kt, kj = erec["arms"]["keras-tensorflow"], erec["arms"]["keras-jax"]
    assert kt["forward pass"] == kj["forward pass"] and "0x" not in kt["forward pass"], kt["forward pass"]
    assert kt["forward pass"].endswith(":keras_build")
    assert kt["initial weights"] == erec["arms"]["jax-adam"]["initial weights"]
    assert kt["initial weights"].startswith("transferred from ") and "0x" not in kt["initial weights"]


def test_run_prints_each_differing_row_with_the_arms_grouped_by_value():
    from paritybench.analysis.conventions_table import summary_lines

    rec = {
        "arms": {"a": {"x": 1, "y": "from logits"}, "b": {"x": 1, "y": "clipped"}, "c": {"x": 1}},
        "differing": ["y"],
    }
    assert summary_lines(rec) == ["y: from logits [a]; clipped [b]; - [c]"]
