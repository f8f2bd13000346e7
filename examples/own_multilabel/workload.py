"""Pairs keras_model.py, torch_model.py and jax_model.py, unchanged: a multi-label classifier on the user's own data.

    python examples/own_multilabel/make_data.py   # writes data.npz (committed; the same arrays every time)
    paritybench run --workload examples/own_multilabel/workload.py
    paritybench localize --workload examples/own_multilabel/workload.py

A sigmoid head with (n, 4) 0/1 targets: every label is a prediction of its own, so the table's accuracy is Keras's
binary accuracy, the share of right labels over all samples and labels, and the saturation and dead-gradient
diagnostics count labels.
"""

from paritybench.adapters.arms import JaxModel, TorchModel, dense_params, own_workload
from paritybench.workloads import Data, Training

WORKLOAD = own_workload(
    "own-multilabel",
    "Does my multi-label classifier train alike in Keras, JAX and torch?",
    params=dense_params((10, 16, 4)),  # the weights' shared names: dense_i/kernel (in, out), dense_i/bias
    head="sigmoid",
    data=Data(source="data.npz", x="features", y="labels", n=256),
    training=Training(steps=20, lr=0.5),
    jax=JaxModel(
        "jax_model:apply", "jax_model:init", "jax_model:optimizer", "jax_model:loss", layers="jax_model:layers"
    ),
    keras="keras_model:build_model",
    torch=TorchModel("torch_model:build", "torch_model:sgd", "torch_model:bce"),
)
