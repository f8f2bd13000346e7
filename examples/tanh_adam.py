"""A user's own workload, written only against paritybench's public interface.

Two hidden tanh layers (784-128-64-10) on ten-class MNIST with pixels scaled to
[0, 1], trained full-batch with Adam, in JAX (optax) and in Keras. Run it with

    paritybench run --workload examples/tanh_adam.py
    paritybench sweep --workload examples/tanh_adam.py --seeds 0-3 --windows 0,1000

Everything paritybench needs is below: the question, the data recipe, the model
declared once (parameter names and shapes) and built per framework from that
declaration, the initial weights, the arms and which arm is the fix. Framework
imports stay inside the functions, so the file loads in any worker process.
"""

from __future__ import annotations

import numpy as np

from paritybench.workloads import Arm, Data, Model, Training, Workload

SIZES = (784, 128, 64, 10)
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

    h = x
    for i in range(len(SIZES) - 1):
        h = h @ params[f"dense_{i}/kernel"] + params[f"dense_{i}/bias"]
        if i < len(SIZES) - 2:
            h = jnp.tanh(h)
    return h  # logits: the softmax is the head's


def keras_build(keras):
    layers = [keras.Input(shape=(SIZES[0],))]
    layers += [keras.layers.Dense(n, activation="tanh") for n in SIZES[1:-1]]
    layers += [keras.layers.Dense(SIZES[-1], activation="softmax")]
    model = keras.Sequential(layers)
    dense = [layer for layer in model.layers]
    variables = {}
    for i, layer in enumerate(dense):
        variables[f"dense_{i}/kernel"] = layer.kernel
        variables[f"dense_{i}/bias"] = layer.bias
    return model, variables


def ce_from_logits(z, y):
    import optax

    return optax.softmax_cross_entropy(z, y)


def keras_ce(keras):
    return keras.losses.categorical_crossentropy


def optax_adam(lr):
    import optax

    return optax.adam(lr, eps=1e-7)  # Keras's epsilon value, in optax's place for it


def keras_adam(keras, lr):
    return keras.optimizers.Adam(learning_rate=lr, epsilon=1e-7)


ARMS = (
    Arm(
        "jax-adam",
        "optax.adam(eps=1e-7), CE from logits",
        "jax",
        "softmax_ce_logits",
        loss_fn=ce_from_logits,
        optimizer=optax_adam,
        requires=("jax", "optax"),
        role="fix",
    ),
    Arm(
        "keras-tensorflow",
        "Keras Adam(epsilon=1e-7), categorical_crossentropy on the softmax",
        "keras",
        "keras:tensorflow",
        process="keras-tensorflow",
        keras_loss=keras_ce,
        keras_optimizer=keras_adam,
        requires=("keras", "tensorflow"),
        role="keras",
    ),
    Arm(
        "keras-jax",
        "the same Keras model on the JAX backend",
        "keras",
        "keras:jax",
        process="keras-jax",
        keras_loss=keras_ce,
        keras_optimizer=keras_adam,
        requires=("keras", "jax"),
        role="keras",
    ),
    Arm(
        "reference-f64",
        "float64 Adam and CE from logits: the arbiter",
        "f64",
        "softmax_ce_logits_f64",
        loss_fn=ce_from_logits,
        optimizer=optax_adam,
        requires=("jax", "optax"),
        role="reference",
    ),
)

WORKLOAD = Workload(
    name="tanh-adam",
    version="1",
    question="Does a two-hidden-layer tanh MLP trained with Adam take the same path in Keras and in optax?",
    sources=("examples/tanh_adam.py",),
    data=Data(dataset="mnist", labels="onehot10", n=1000, normalize=True),
    training=Training(steps=10, lr=1e-3),
    model=Model(params=PARAMS, head="softmax", init=init, jax_apply=jax_apply, keras_build=keras_build),
    arms=ARMS,
    fix="jax-adam",
)
