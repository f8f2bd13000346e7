"""Pairs keras_model.py, torch_model.py and jax_model.py, unchanged: a Keras LSTM over MNIST rows and its torch
nn.LSTM port.

    paritybench run --workload examples/own_lstm/workload.py
    paritybench localize --workload examples/own_lstm/workload.py --arms torch,torch-literal
    paritybench explain --workload examples/own_lstm/workload.py --arms torch-literal,reference-f64

Each image is a sequence of its 28 rows (data.py, from the bundled MNIST slice through
``paritybench.workloads.mnist_arrays``); a ten-way softmax head reads the LSTM's last output, against the digits as
class ids. ``torch`` maps Keras's one LSTM bias onto torch's ``bias_ih`` with ``bias_hh`` zero (the weight mapping
table is printed); ``torch-literal`` is the port that copies it into both, and parts at step 0, forward, at the
LSTM (``rnn``); ``explain`` names the recurrent bias split, read from the two arms' weight maps.
"""

from paritybench.adapters.arms import JaxModel, TorchModel, own_workload
from paritybench.workloads import Data, Training

LSTM = {"rnn/kernel": (28, 64), "rnn/recurrent_kernel": (16, 64), "rnn/bias": (64,), "out/kernel": (16, 10)}
PORT = ("torch_model:build", "torch_model:sgd", "torch_model:cross_entropy")
WORKLOAD = own_workload(
    "own-lstm",
    "Does my torch nn.LSTM port train like my Keras LSTM over MNIST rows?",
    params={**LSTM, "out/bias": (10,)},  # the weights' shared names, in Keras's layout
    head="softmax",
    data=Data(source="data:load", n=128),
    training=Training(steps=30, lr=0.5),
    jax=JaxModel(
        "jax_model:apply", "jax_model:init", "jax_model:optimizer", "jax_model:loss", layers="jax_model:layers"
    ),
    keras="keras_model:build_model",
    torch={
        "torch": TorchModel(*PORT),
        "torch-literal": TorchModel(*PORT, mapping={"overrides": {"rnn.bias_hh_l0": "rnn/bias"}}),
    },
)
