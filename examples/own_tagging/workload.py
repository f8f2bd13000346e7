"""Pairs keras_model.py, torch_model.py and jax_model.py, unchanged: a token tagger on the user's own sequences.

    python examples/own_tagging/make_data.py   # writes data.npz (committed; the same arrays every time)
    paritybench run --workload examples/own_tagging/workload.py
    paritybench localize --workload examples/own_tagging/workload.py

A softmax head over sequence outputs: logits (n, 8, 5) against integer tags (n, 8), one class id per token (Keras's
sparse categorical cross-entropy, torch's cross_entropy with class indices). The table's accuracy is the share of
tokens tagged right (Keras's sparse categorical accuracy over all positions); the saturation and dead-gradient
diagnostics count tokens.
"""

from paritybench.adapters.arms import JaxModel, TorchModel, own_workload
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "own-tagging",
    "Does my token tagger train alike in Keras, JAX and torch?",
    params={
        "embed/embedding": (20, 8),
        "hidden/kernel": (8, 16),
        "hidden/bias": (16,),
        "out/kernel": (16, 5),
        "out/bias": (5,),
    },  # the weights' shared names, in Keras's layout
    head="softmax",
    data=Data(source="data.npz", x="tokens", y="tags", n=256),
    training=Training(steps=20, lr=0.5),
    jax=JaxModel(
        "jax_model:apply", "jax_model:init", "jax_model:optimizer", "jax_model:loss", layers="jax_model:layers"
    ),
    keras="keras_model:build_model",
    torch=TorchModel("torch_model:build", "torch_model:sgd", "torch_model:loss"),
)
