"""gpu-nondeterminism in Keras 3: binned pixels -> Embedding -> sum -> ReLU -> Dense(1, sigmoid)."""

from __future__ import annotations

from paritybench.workloads.gpu_nondeterminism.workload import BINS, DIM, PIXELS, VOCAB
from paritybench.workloads.kit.keras import binary_crossentropy as loss  # on the sigmoid output

__all__ = ["build", "loss"]


def build(keras):
    ops = keras.ops

    def to_tokens(x):
        b = ops.cast(ops.clip(ops.floor(x * BINS), 0, BINS - 1), "int32")
        return ops.arange(PIXELS, dtype="int32") * BINS + b

    model = keras.Sequential(
        [
            keras.Input(shape=(PIXELS,)),
            keras.layers.Lambda(to_tokens, output_shape=(PIXELS,)),
            keras.layers.Embedding(VOCAB, DIM),
            keras.layers.Lambda(lambda e: ops.relu(ops.sum(e, axis=1)), output_shape=(DIM,)),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    emb, dense = model.layers[1], model.layers[3]
    return model, {"embedding/table": emb.embeddings, "dense/kernel": dense.kernel, "dense/bias": dense.bias}
