"""mixed-precision in Keras 3: 784-32-10, two ``Dense`` layers under the ``mixed_bfloat16`` dtype policy and a
float32 ``Activation("softmax")``, categorical CE on its output.

``dtype="mixed_bfloat16"`` is ``DTypePolicy("mixed_bfloat16")``: variable dtype float32, compute dtype
bfloat16 (``keras/src/dtype_policies/dtype_policy.py:84-85``, ``_parse_name``). The layer's variables (kernel,
bias) stay float32 and are cast to bfloat16 where the layer reads them (the ``AutocastScope`` that
``keras/src/layers/layer.py:994`` opens; ``keras/src/backend/common/variables.py:246-248``), its inputs are cast
to bfloat16 (``layer.py:886``, ``dtype_policy.convert_input``), and the
optimizer updates the float32 variables (the "master weights"). The softmax layer in float32 casts its
bfloat16 input to float32, as Keras's mixed-precision guide places the output layer.
"""

from __future__ import annotations

from paritybench.workloads.kit.keras import categorical_crossentropy as loss  # on the float32 softmax output
from paritybench.workloads.kit.keras import dense_variables
from paritybench.workloads.mixed_precision.workload import POLICY, SIZES

__all__ = ["build", "loss"]


def build(keras, policy: str = POLICY):
    """The model as a Keras user writes it under a mixed policy (``policy``, the arm's ``keras_options``)."""
    n_in, hidden, classes = SIZES
    first = keras.layers.Dense(hidden, activation="tanh", dtype=policy)
    last = keras.layers.Dense(classes, dtype=policy)
    model = keras.Sequential(
        [keras.Input(shape=(n_in,)), first, last, keras.layers.Activation("softmax", dtype="float32")]
    )
    return model, dense_variables(first, last)
