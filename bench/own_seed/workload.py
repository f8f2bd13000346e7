"""The seed workload's model and data through the adapters (bench/adapter_speed.py: issue 18's 1.2x target)."""

from paritybench.adapters.arms import JaxModel, TorchModel, dense_params, own_workload
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "own-seed",
    "The seed's 784-1000-1 MLP, handed over as a user's JAX, Keras and torch code",
    params=dense_params((784, 1000, 1)),
    head="sigmoid",
    data=Data(dataset="mnist", labels="binary", n=1000, normalize=False),
    training=Training(steps=10, lr=0.01),
    jax=JaxModel("jax_model:apply", "jax_model:init", "jax_model:optimizer", "jax_model:loss"),
    keras="keras_model:build_model",
    torch=TorchModel("torch_model:build", "torch_model:sgd", "torch_model:bce"),
)
