"""A regression on your own tabular data: no MNIST anywhere.

``data.npz`` (written by ``make_data.py`` beside this file) holds 512 samples of 8 float features and one
float target each. A 8-16-1 tanh MLP with a linear head (its outputs are its predictions) is trained
full-batch with plain SGD on the mean squared error in JAX, in torch, in Keras (TensorFlow backend), and
in float64 (the arbiter). Run it with

    paritybench run --workload examples/own_regression/workload.py

The table shows each arm's loss (a linear head has no classes, so there is no accuracy). The data's
sha256, array names, shapes and dtypes are in the artifact's ``environment.data``.
"""

from __future__ import annotations

import numpy as np

from paritybench.workloads import Arm, Data, Model, Training, Workload

SIZES = (8, 16, 1)
PARAMS = {}
for i, (a, b) in enumerate(zip(SIZES[:-1], SIZES[1:], strict=True)):
    PARAMS[f"dense_{i}/kernel"] = (a, b)
    PARAMS[f"dense_{i}/bias"] = (b,)


def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
    """Glorot-uniform kernels and zero biases from NumPy's generator at ``seed`` (Keras's Dense defaults)."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, shape in PARAMS.items():
        if name.endswith("kernel"):
            limit = np.sqrt(6.0 / (shape[0] + shape[1]))
            out[name] = rng.uniform(-limit, limit, size=shape).astype(np.float32)
        else:
            out[name] = np.zeros(shape, np.float32)
    return out


def jax_apply(params, x):
    import jax.numpy as jnp

    h = jnp.tanh(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]  # the predictions: a linear head


def jax_layers(params, x):
    """The hidden layer's output, for ``paritybench localize``'s forward phase (Keras: ``keras_layers``)."""
    import jax.numpy as jnp

    return {"hidden": jnp.tanh(x @ params["dense_0/kernel"] + params["dense_0/bias"])}


def torch_apply(params, x):
    import torch

    h = torch.tanh(x @ params["dense_0/kernel"] + params["dense_0/bias"])
    return h @ params["dense_1/kernel"] + params["dense_1/bias"]


def keras_build(keras):
    model = keras.Sequential(
        [keras.Input(shape=(SIZES[0],)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    variables = {}
    for i, layer in enumerate(model.layers):
        variables[f"dense_{i}/kernel"] = layer.kernel
        variables[f"dense_{i}/bias"] = layer.bias
    return model, variables


def mse(z, y):
    import jax.numpy as jnp

    return jnp.mean(jnp.square(z - y), axis=-1)  # per sample, as Keras's mean_squared_error


def torch_mse(z, y):
    import torch.nn.functional as F

    return F.mse_loss(z, y)


def keras_mse(keras):
    return keras.losses.mean_squared_error


ARMS = (
    Arm("jax", "JAX, MSE, plain SGD", "jax", "mse", loss_fn=mse, requires=("jax",), role="port"),
    Arm(
        "torch",
        "torch autograd, F.mse_loss, torch.optim.SGD",
        "torch",
        "torch:mse",
        torch_loss=torch_mse,
        requires=("torch",),
        role="port",
    ),
    Arm.keras("tensorflow", "Keras's mean_squared_error, SGD", keras_mse),
    Arm(
        "reference-f64",
        "float64 MSE and SGD: the arbiter",
        "f64",
        "mse_f64",
        loss_fn=mse,
        requires=("jax",),
        role="reference",
    ),
)

WORKLOAD = Workload(
    name="own-regression",
    version="1",
    question="Does an MLP regression on my own tabular data train alike in JAX, torch and Keras?",
    sources=("examples/own_regression/workload.py",),
    data=Data(source="data.npz", x="features", y="targets", n=256),
    training=Training(steps=20, lr=0.05),
    model=Model(
        params=PARAMS,
        head="linear",
        init=init,
        jax_apply=jax_apply,
        keras_build=keras_build,
        torch_apply=torch_apply,
        jax_layers=jax_layers,
        keras_layers={"hidden": 0},  # the first Dense (tanh): the same tensor
    ),
    arms=ARMS,
    fix="jax",
)
