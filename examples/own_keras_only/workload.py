"""keras_model.py and torch_model.py, unchanged; the Keras model in float64 is the arbiter (run --workload THIS)"""

from paritybench.adapters.arms import Data, TorchModel, Training, dense_params, own_workload

WORKLOAD = own_workload(
    "own-keras-only",
    "Does my torch port train like my Keras model, measured against the Keras model itself in float64?",
    params=dense_params((8, 16, 1)),  # the weights' shared names: dense_i/kernel (in, out), dense_i/bias
    head="linear",
    data=Data(source="data:load", n=256),
    training=Training(steps=20, lr=0.05),  # torch's SGD takes it; the compiled Keras SGD has its own (0.05)
    torch=TorchModel("torch_model:build", "torch_model:optimizer", "torch_model:loss", example_shape=(8,)),
    keras="keras_model:build_model",
    reference="keras",  # the Keras model on Keras-JAX at floatx float64 with JAX's x64 (not "auto": torch)
)
