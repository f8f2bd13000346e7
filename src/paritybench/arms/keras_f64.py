"""The float64 arbiter in Keras: the user's Keras model on Keras's JAX backend, in the harness's own process.

For a workload whose model is the user's Keras factory (``adapters.arms.own_workload`` with ``reference="keras"``,
or ``"auto"`` with a Keras model only), the arbiter is that factory run here on Keras-JAX with ``floatx``
float64 and JAX's x64 (``adapters.keras_jax``): its forward pass ``model.stateless_call``, its compiled loss and
its compiled optimizer's ``stateless_apply``, handed to the f64 machinery as an f64 arm's ``jax_apply``,
``loss_fn`` and ``optimizer``. Everything an f64 arm is (training, the float64 gradient at any weights,
``localize``'s evaluator) it is the same way; its float32 twin (``localize``'s noise floor) is the same arm as a
JAX arm, the factory run at ``floatx`` float32 without x64.
"""

from __future__ import annotations

from paritybench.arms.f64 import F64Kind
from paritybench.workloads.base import Arm


class KerasF64Kind(F64Kind):
    """The Keras float64 arbiter (``Workload.reference``), in the harness's process."""

    name = "keras-f64"
    float32_kind = "jax"  # the same Keras-JAX functions in float32: the factory at floatx float32, x64 off

    def cost_class(self, arm: Arm) -> str:
        return "f64"  # the same f64 trainer, over a Keras-JAX forward pass
