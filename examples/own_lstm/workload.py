"""Pairs keras_model.py, torch_model.py and jax_model.py, unchanged: a Keras LSTM and its torch nn.LSTM port.

    paritybench run --workload examples/own_lstm/workload.py
    paritybench localize --workload examples/own_lstm/workload.py --arms torch,torch-literal
    paritybench explain --workload examples/own_lstm/workload.py --arms torch-literal,reference-f64

``torch`` maps Keras's one LSTM bias onto torch's ``bias_ih`` with ``bias_hh`` zero (the weight mapping table is
printed); ``torch-literal`` is the port that copies it into both, and parts at step 0 at the LSTM; ``explain``
names the recurrent bias split, read from the two arms' weight maps.
"""

from paritybench.adapters.arms import JaxModel, TorchModel, own_workload
from paritybench.workloads import Data, Training

LSTM = {"rnn/kernel": (3, 32), "rnn/recurrent_kernel": (8, 32), "rnn/bias": (32,), "out/kernel": (8, 2)}
PORT = ("torch_model:build", "torch_model:sgd", "torch_model:mse")
WORKLOAD = own_workload(
    "own-lstm",
    "Does my torch nn.LSTM port train like my Keras LSTM?",
    params={**LSTM, "out/bias": (2,)},  # the weights' shared names, in Keras's layout
    head="linear",
    data=Data(source="data:load", n=128),
    training=Training(steps=20, lr=0.1),
    jax=JaxModel(
        "jax_model:apply", "jax_model:init", "jax_model:optimizer", "jax_model:loss", layers="jax_model:layers"
    ),
    keras="keras_model:build_model",
    torch={
        "torch": TorchModel(*PORT),
        "torch-literal": TorchModel(*PORT, mapping={"overrides": {"rnn.bias_hh_l0": "rnn/bias"}}),
    },
)
