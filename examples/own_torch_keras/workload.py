"""torch_model.py and keras_model.py, unchanged; no JAX: the arbiter is torch in float64 (run --workload THIS)"""

from paritybench.adapters.arms import TorchModel, dense_params, own_workload
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "own-torch-keras",
    "Does my Keras model train like my torch model, with no JAX port at all?",
    params=dense_params((8, 16, 1)),  # the weights' shared names: dense_i/kernel (in, out), dense_i/bias
    head="linear",
    data=Data(source="data:load", n=256),
    training=Training(steps=20, lr=0.05),  # torch's SGD takes it; the compiled Keras SGD has its own (0.05)
    torch=TorchModel("torch_model:build", "torch_model:optimizer", "torch_model:loss", example_shape=(8,)),
    keras="keras_model:build_model",
)
