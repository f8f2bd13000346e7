"""flatten-order: the Dense after a convolution's Flatten, ported between channels-last and channels-first.

The model: Conv2D(4, 3x3, stride 2, "valid") + ReLU + Flatten + Dense(1, sigmoid) on normalized MNIST, digit
>= 5, 10 full-batch SGD steps at lr 0.5, every arm from the same weights.

Keras 3 and JAX lay a feature map out channels-last, (N, H, W, C), and Keras's ``Flatten`` always flattens in
(h, w, c) order: a ``channels_first`` input is transposed to channels-last before the reshape
(keras/src/layers/reshaping/flatten.py:46-48, the reshape at :58; keras 3.15.1). So the Dense kernel's row
``(h * W + w) * C + c`` reads channel c at pixel (h, w). torch lays it out channels-first, (N, C, H, W), and
``nn.Flatten(start_dim=1)`` (torch/nn/modules/flatten.py:46, a plain ``input.flatten``) reshapes it as it lies:
the Linear's input ``(c * H + h) * W + w`` is channel c at (h, w). A port that copies the Keras kernel into
``nn.Linear`` by transposing it alone (the right rule for a Dense that follows a Dense) loads without a
complaint, the shapes being equal, and computes another function: each weight meets another feature. The fix
permutes the kernel's rows from (h, w, c) to (c, h, w) order (``PERM``), the rule
``paritybench.adapters.layouts`` writes as ``flatten_to_channels_first(H,W,C)`` (the tests hold the two equal).

Exact relations (``tests/test_workload_flatten_order.py``): the port's logits at weights K are the fix's at
weights K with its rows permuted by ``PERM``'s inverse (in float64, to 1e-12); with one channel (C = 1) the two
orders coincide, and the port is the fix. And since plain SGD updates each weight from its own gradient, the port
trains exactly as the fix would from those permuted weights: it trains, but from a different function.

Arms: the port in JAX (``jax-flatten-chw``: the features flattened in torch's (c, h, w) order against the
unpermuted kernel) and natively in torch (``torch-linear-literal``), the fix in JAX (``jax-flatten-hwc``,
Keras's order) and in torch (``torch-linear-permuted``: torch's own flatten, the kernel's rows permuted), the
three Keras backends with their JAX emulations, and the float64 arbiter.

Why this setting: one convolution with several channels is the smallest model where the two orders differ (with
C = 1, or a 1x1 map, they coincide); "valid" padding keeps same-padding's pitfall out of it (13 = (28 - 3) // 2
+ 1 in both frameworks).
"""

from __future__ import annotations

import numpy as np

from paritybench.workloads.flatten_order.evidence import MEASURED
from paritybench.workloads.kit import conv
from paritybench.workloads.kit.folder import Folder

SIDE = 28
FILTERS = 4
KERNEL = 3
STRIDE = 2
OUT_SIDE = 13  # (28 - 3) // 2 + 1, "valid" in Keras, padding=0 in torch
FLAT = OUT_SIDE * OUT_SIDE * FILTERS
F = Folder("paritybench.workloads.flatten_order")

# PERM[j] is the Keras (h, w, c) row that torch's (c, h, w) input j must meet: the channels-first kernel is
# kernel[PERM]. (np.arange numbers the features in Keras's order; laid out (c, h, w) and read flat, it gives
# each channels-first position its Keras row.)
PERM = np.arange(FLAT).reshape(OUT_SIDE, OUT_SIDE, FILTERS).transpose(2, 0, 1).reshape(-1)

PARAMS = conv.conv_dense_params(KERNEL, FILTERS, FLAT)  # the dense kernel's rows in Keras's (h, w, c)
_HWC = {"flatten order": "(h, w, c), the kernel's rows in (h, w, c)"}
_CHW = {"flatten order": "(c, h, w) against kernel rows in (h, w, c): copied, transposed only"}
_CHW_PERMUTED = {"flatten order": "(c, h, w), the kernel's rows permuted to (c, h, w)"}

ARMS = (
    F.port(
        "jax-flatten-chw",
        "the port in JAX: features flattened (c, h, w) as torch's nn.Flatten on NCHW, the Keras kernel unpermuted",
        "logits",
        _CHW,
        forward="chw",
    ),
    *F.bce_fix(
        "flatten-hwc",
        "Flatten in (h, w, c)",
        "features flattened (h, w, c) as Keras's Flatten does: the fix, and Keras-TF's update",
        _HWC,
    ),
    F.torch_port(
        "torch-linear-literal",
        "native torch port: nn.Flatten on NCHW, the Keras kernel copied into nn.Linear transposed only",
        "bce_logits",
        _CHW,
        forward="literal",
        matches="jax-flatten-chw",
    ),
    F.torch_fix(
        "torch-linear-permuted",
        "native torch, the fix: nn.Flatten on NCHW, the kernel's rows permuted (h, w, c) -> (c, h, w)",
        "bce_logits",
        _CHW_PERMUTED,
        torch_apply=F.torch("apply_permuted"),
        torch_layers=F.torch("layers"),
        matches="jax-flatten-hwc",
    ),
    *F.keras_arms(
        tensorflow="Flatten on NHWC, (h, w, c)",
        jax="Flatten on NHWC, (h, w, c)",
        torch="Flatten on NHWC, (h, w, c) (Keras's torch backend keeps channels-last)",
        conventions={"flatten order": "(h, w, c): Keras's Flatten is channels-last"},
    ),
    F.reference("JAX in float64, Flatten in (h, w, c), BCE from logits: the ground truth", _HWC),
)

WORKLOAD = F.workload(
    name="flatten-order",
    question="Does a Conv2D + Flatten + Dense model ported from Keras (channels-last) to torch (channels-first) "
    "by transposing the Dense kernel compute the same function from the same weights?",
    sources=("gzuidhof/nn-transfer#11", "gzuidhof/nn-transfer#16"),
    data=conv.DATA,
    training=conv.TRAINING,
    model=F.conv_model(PARAMS, {"conv/relu": 1, "flatten": 2}, "apply_permuted"),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-flatten-hwc",
)
