"""same-padding: Conv2D 3x3, stride 2, ``padding="same"`` on 28x28 images, ported to torch-style padding.

The model: Conv2D(8, 3x3, stride 2, "same") + ReLU + Flatten + Dense(1, sigmoid) on normalized
MNIST, digit >= 5, 10 full-batch SGD steps at lr 0.5 (at 0.1 neither padding gets past 0.70 in
10 steps), every arm from the same weights.

TensorFlow's SAME for a 3x3 kernel at stride 2 on 28 pixels needs one pixel of padding in all,
max((ceil(28/2) - 1) * 2 + 3 - 28, 0) = 1, and puts it at the end: (top, bottom) = (0, 1).
A torch port writes ``nn.Conv2d(..., stride=2, padding=1)`` (torch refuses ``padding="same"``
with a stride), which pads (1, 1): the output is still 14x14, the weights load without a
complaint, and every output pixel reads the input one pixel up and left of where TensorFlow
reads it. The port is therefore SAME on the image shifted one pixel down and right only when the
image's last row and column are blank (the shift pushes them out); 15 of the preset's 1000 images
have ink there (``tools/claims.py``). With identical weights the forward pass differs from step 0.

Which Keras backends do TensorFlow's SAME (read in keras 3.15.1's source, measured here):
- TensorFlow: ``padding.upper()`` handed to ``tf.nn.convolution`` (``backend/tensorflow/nn.py``).
- JAX: the string handed to ``lax.conv_general_dilated``, whose ``padtype_to_pads`` gives
  (pad // 2, pad - pad // 2) = (0, 1) (``backend/jax/nn.py``); reproduced by ``jax-same``.
- torch: ``_apply_same_padding`` (``backend/torch/nn.py``) computes TF's total padding, puts
  "the extra pixel at the end" and, as left != right, pads explicitly with ``tnn.pad`` and calls
  the convolution with padding 0: also (0, 1). The ``keras-torch`` arm runs it (torch extra) and
  lands with the fix (results/baselines/same-padding-cpu.json).
So only the hand port differs; the fix is ``padding="SAME"`` in ``lax.conv_general_dilated``
(or, in torch, ``F.pad(x, (0, 1, 0, 1))`` before a ``padding=0`` convolution).

Why this setting: a single strided 3x3 convolution is the smallest model where the offset
exists at all (stride 1 pads (1, 1) in both conventions), and MNIST's 28 is even, which is
exactly when TF's padding is asymmetric.
"""

from __future__ import annotations

from paritybench.workloads.kit import conv
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.same_padding.evidence import MEASURED

SIDE = 28
FILTERS = 8
KERNEL = 3
STRIDE = 2
OUT_SIDE = 14  # ceil(28 / 2): the same in both conventions, so the port loads the weights silently
F = Folder("paritybench.workloads.same_padding")
_SAME = {"padding": "SAME: (0, 1)"}
_PAD1 = {"padding": "explicit (1, 1) on both axes"}

PARAMS = conv.conv_dense_params(KERNEL, FILTERS, OUT_SIDE * OUT_SIDE * FILTERS)


ARMS = (
    F.port(
        "jax-torch-pad",
        "torch-style port: the convolution padded (1, 1), like nn.Conv2d(padding=1)",
        "logits",
        _PAD1,
        forward="torch_pad",
    ),
    *F.bce_fix("same", "SAME padding", "lax.conv_general_dilated(padding='SAME'): TensorFlow's (0, 1), the fix", _SAME),
    F.torch_port(
        "torch-conv-pad1",
        "native torch port: F.conv2d(stride=2, padding=1), i.e. nn.Conv2d(padding=1): (1, 1)",
        "bce_logits",
        _PAD1,
        forward="pad1",
        matches="jax-torch-pad",
    ),
    F.torch_fix(
        "torch-same-pad",
        "native torch, the fix: F.pad(x, (0, 1, 0, 1)) then F.conv2d(padding=0): TF's (0, 1)",
        "bce_logits",
        _SAME,
        torch_apply=F.torch("apply_same"),
        torch_layers=F.torch("layers"),
        matches="jax-same",
    ),
    *F.keras_arms(
        tensorflow="Conv2D padding='same' via tf.nn.convolution",
        jax="Conv2D padding='same' via lax.conv_general_dilated",
        torch="Conv2D padding='same' via an explicit tnn.pad (0, 1) and padding 0",
        keras_options={"padding": "same"},
        conventions={"padding": "same: (0, 1)"},
    ),
    F.reference(
        "JAX in float64, SAME padding, BCE from logits: the ground truth", {**_SAME, "loss path": "from logits"}
    ),
)

WORKLOAD = F.workload(
    name="same-padding",
    question="Does a torch-style port of Conv2D(3x3, stride 2, padding='same') on 28x28 images compute the same "
    "forward pass as TensorFlow from the same weights, and which Keras backends match TensorFlow?",
    sources=("pytorch/pytorch#67551", "onnx/tensorflow-onnx#1028"),
    data=conv.DATA,
    training=conv.TRAINING,
    model=F.conv_model(PARAMS, {"conv/relu": 1}, "apply_same"),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-same",
)
