"""The float64 arbiter in Keras: the user's Keras model on Keras's JAX backend, in the harness's own process.

For a workload whose model is the user's Keras factory (``adapters.arms.own_workload`` with ``reference="keras"``,
or ``"auto"`` with a Keras model only), the arbiter is that factory run here on Keras-JAX with ``floatx``
float64 and JAX's x64 (``adapters.keras_jax``): its forward pass ``model.stateless_call``, its compiled loss and
its compiled optimizer's ``stateless_apply``, handed to the f64 machinery as an f64 arm's ``jax_apply``,
``loss_fn`` and ``optimizer``. Everything an f64 arm is (training, the float64 gradient at any weights,
``localize``'s evaluator) it is the same way; its float32 twin (``localize``'s noise floor) is the same arm as a
JAX arm, the factory run at ``floatx`` float32 without x64. Its conventions are read from its Keras model and
optimizer as a Keras arm's are (``keras_conventions.read_conventions``), so the table compares them row by row.
"""

from __future__ import annotations

from types import SimpleNamespace

from paritybench.adapters.keras_jax import KerasOptimizer, keras_on_jax
from paritybench.arms import keras_conventions
from paritybench.arms.f64 import F64Kind
from paritybench.workloads.base import Arm, resolve_ref


class KerasF64Kind(F64Kind):
    """The Keras float64 arbiter (``Workload.reference``), in the harness's process."""

    name = "keras-f64"
    float32_kind = "jax"  # the same Keras-JAX functions in float32: the factory at floatx float32, x64 off

    def cost_class(self, arm: Arm) -> str:
        return "f64"  # the same f64 trainer, over a Keras-JAX forward pass

    def conventions(self, workload, arm, lr, numerics, keras_rows=None) -> dict:
        rows = super().conventions(workload, arm, lr, numerics, keras_rows)
        opt = resolve_ref(arm.optimizer) if arm.optimizer is not None else None
        if not isinstance(opt, KerasOptimizer):
            return rows
        model = opt.on_jax.build("float64").model
        read = keras_conventions.read_conventions(
            SimpleNamespace(keras=keras_on_jax(), model=model, workload=workload, arm=arm)
        )
        # the optax reading of the wrapper says nothing of the Keras optimizer inside: its own rows replace it
        kept = {k: v for k, v in rows.items() if not k.startswith("optimizer") and k not in read}
        read.pop("implementation: keras compile", None)  # compile() does not run it: paritybench's f64 trainer does
        return {**kept, **read, "dtype": "float64", "matmul precision": rows["matmul precision"]}
