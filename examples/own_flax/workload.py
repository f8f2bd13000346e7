"""Pairs a flax linen model (flax_model.py) with a Keras model (keras_model.py), unchanged; needs the flax extra.

    paritybench run --workload examples/own_flax/workload.py

The ``jax-step`` arm trains by the user's own jitted ``train_step``. ``nnx_model("flax_model:build_nnx",
"flax_model:optimizer", "flax_model:loss", "flax_model:nnx_train_step")`` in place of ``linen_model`` runs the nnx
version of the same model and step.
"""

from paritybench.adapters.arms import dense_params, own_workload
from paritybench.adapters.flax_models import linen_model
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "own-flax",
    "Does my flax model train like my Keras model?",
    params=dense_params((8, 16, 1)),
    head="linear",
    data=Data(source="data:load", n=256),
    training=Training(steps=20, lr=0.05),
    jax=linen_model("flax_model:model", (8,), "flax_model:optimizer", "flax_model:loss", "flax_model:train_step"),
    keras="keras_model:build_model",
)
