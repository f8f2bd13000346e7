"""Pairs keras_model.py and jax_model.py, unchanged: paritybench run --workload examples/own_models/workload.py"""

from paritybench.adapters.arms import JaxModel, dense_params, own_workload
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "own-models",
    "Does my JAX port (optax.adam) train like my Keras model compiled with Adam?",
    params=dense_params((8, 16, 1)),  # the weights' shared names: dense_i/kernel (in, out), dense_i/bias
    head="linear",
    data=Data(source="data:load", n=256),
    training=Training(steps=20, lr=1e-2),  # the models' own optimizers keep their own learning rates
    jax=JaxModel("jax_model:apply", "jax_model:init", "jax_model:optimizer", "jax_model:loss", "jax_model:train_step"),
    keras="keras_model:build_model",
)
