"""A project's own parity tests through paritybench's pytest plugin (installed with paritybench: the `pytest11`
entry point loads ``paritybench.testing``). Run them with

    pytest examples/test_own_parity.py

and expect 1 passed, 1 xfailed. Each test runs ``paritybench localize`` on a pair: both arms at the same weights,
step by step, against the float32 noise floor; a pair that parts fails with localize's first-parting line.

The pairs are declared arms of paritybench workloads (a user's file, examples/tanh_adam.py, and the built-in seed
workload). A workload built from a user's own model code through the adapters (examples/own_models/workload.py,
examples/own_lstm/workload.py: ``own_workload``) names its arms the same way (``"torch"``, ``"keras-tensorflow"``,
``"reference-f64"``) and is checked by the same call. ``parity`` is the plugin's fixture (its localize records
under the test's tmp_path); ``paritybench.testing.assert_trains_like`` is the same check as a plain function.
"""

from pathlib import Path

import pytest

STEPS = 3  # a few steps: the literal port parts at step 0, the faithful one stays within the floor throughout
TANH_ADAM = Path(__file__).with_name("tanh_adam.py")  # a user's workload file, found from any working directory


def test_faithful_port_trains_like_the_float64_reference(parity):
    # optax Adam with Keras's epsilon and cross-entropy from the logits, in float32, against the same in float64
    parity.assert_trains_like(TANH_ADAM, "jax-adam", "reference-f64", steps=STEPS)


@pytest.mark.xfail(strict=True, raises=AssertionError, reason="a literal port: log(sigmoid(z)) in float32")
def test_literal_port_trains_like_the_float64_reference(parity):
    # the seed workload's jax-naive takes log of float32's sigmoid, which rounds to exactly 0 or 1 for |z| > 16.6:
    # its loss is not finite at step 0, and the failure message names that step and phase
    parity.assert_trains_like("seed-bce", "jax-naive", "reference-f64", steps=STEPS)
