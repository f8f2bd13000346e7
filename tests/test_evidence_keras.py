"""issue 11: the Keras arms' sensitivity classes are measured (``sensitivity --k 8`` through the Keras
workers), not inferred from their emulations."""

from __future__ import annotations

import pytest

from paritybench.workloads import load

MEASURED_KERAS = (
    "softmax-ce",
    "adam-epsilon",
    "l2-weight-decay",
    "label-shape",
    "same-padding",
    "flatten-order",
    "pool-padding",
    "tf32-matmul",
    "gpu-nondeterminism",
    "batchnorm-momentum",
    "gelu-approximate",
    "leaky-relu-slope",
    "loss-reduction",
    "batchnorm-variance",
    "momentum-schedule",
    "mixed-precision",
)


@pytest.mark.parametrize("name", MEASURED_KERAS)
def test_every_keras_arm_has_measured_evidence(name):
    w = load(name)
    keras = [a for a in w.arms if a.kind == "keras"]
    assert keras, name
    for a in keras:
        assert "one-ulp copies" in a.evidence and "(sensitivity --k 8, 2-core CPU)" in a.evidence, (name, a.name)
        assert "not run under sensitivity" not in a.evidence


def test_softmax_ce_keras_classes_as_measured():
    w = load("softmax-ce")
    assert w.arm("keras-jax").expected == "chaotic" and w.arm("keras-jax").evidence.startswith("0.333-0.454")
    assert w.arm("keras-torch").expected == "chaotic" and w.arm("keras-torch").evidence.startswith("0.340-0.437")
    assert w.arm("keras-tensorflow").expected == "stable"  # from logits: 0.169 on every copy


def test_batchnorm_momentum_arms_all_measured():
    w = load("batchnorm-momentum")
    assert all(a.evidence.startswith("0.910 on all 8") for a in w.arms), [a.evidence for a in w.arms]
