"""pool-padding: AveragePooling2D(3, strides=2, padding="same") where SAME's padding is asymmetric, ported.

The model: Cropping2D(4) + Conv2D(4, 3x3, "valid", ReLU) + AveragePooling2D(3, strides 2, "same") + Flatten +
Dense(1, sigmoid) on normalized MNIST, digit >= 5, 10 full-batch SGD steps at lr 0.5, every arm from the same
weights.

SAME on the conv's 18x18 map with a 3x3 window at stride 2 needs max((9 - 1) * 2 + 3 - 18, 0) = 1 cell of
padding per axis, put at the end: (0, 1). So every output in the last row and column averages a window with
padded cells in it: 6 real cells at an edge, 4 at the corner, 9 elsewhere. Who divides by what (read in the
installed sources, keras 3.15.1, torch 2.15; flax is not installed here, read in google/flax):
- Keras-TensorFlow: ``tf.nn.avg_pool(..., "SAME")`` (keras/src/backend/tensorflow/nn.py:262-287), which
  averages over the real cells only (the padded ones are neither summed nor counted: measured, the Keras-TF arm
  is reproduced by ``jax-pool-exclude-pad``).
- Keras-JAX: ``lax.reduce_window`` sum divided by the same reduce_window over ones, ``window_counts``
  (keras/src/backend/jax/nn.py:276-296): TensorFlow's divisor, exactly.
- Keras-torch: ``_apply_same_padding`` (keras/src/backend/torch/nn.py:241-283) pads an asymmetric (0, 1)
  explicitly with ``mode="replicate"`` for pooling (:282) and then calls ``avg_pool2d(padding=0,
  count_include_pad=False)`` (:455-461): the replicated cells are real cells to torch, so an edge output is
  (a + 2b) / 3 per axis where TensorFlow's is (a + b) / 2 (``jax-pool-replicate-keras-torch-clip``). Equal to
  TensorFlow's only where the last two rows (columns) are equal. keras-team/keras#18452 reported the torch
  backend's "same" average pooling; keras-team/keras#23233 replaces the replicate padding with zero padding over
  the count of real cells, which keras 3.15.1 (this project's lock) does not have yet: measured, ``keras-torch``
  leaves the float64 reference 1.7e-3 after step 1 (results/baselines/pool-padding-cpu.json).
- flax: ``linen.avg_pool(..., count_include_pad=True)`` by default divides the SAME sum by
  ``np.prod(window_shape)`` (flax/linen/pooling.py, ``avg_pool``), as does a port that writes
  ``lax.reduce_window(x, 0., lax.add, ..., "SAME") / 9``: the literal JAX port, ``jax-pool-include-pad``. At
  each edge output it is TensorFlow's times 6/9, at the corner 4/9, elsewhere equal (exact, test).
- torch: ``nn.AvgPool2d(3, stride=2, padding=1)`` (torch refuses ``padding="same"`` for pooling) pads (1, 1)
  ("implicit zero padding to be added on both sides", torch/nn/modules/pooling.py:711) and
  ``count_include_pad=True`` by default (:766): every window moves one cell up and left of TensorFlow's (as in
  same-padding) and the first row and column average 6 real cells over 9 (``torch-avgpool-pad1``, its JAX twin
  ``jax-pool-torch-pad``).
The fix: divide the SAME sum by the count of real cells (``jax-pool-exclude-pad``; in torch ``F.pad(x, (0, 1,
0, 1))`` and a count map, ``torch-avgpool-exclude``).

Why this setting: MNIST's digits sit in the central 20x20 of the 28x28 image; on the full image every border
window would sum blank pixels to 0, and every divisor gives the same 0. Cropping the 4-pixel blank frame puts
ink in the border windows (the last pooled row and column read image rows and columns 20-23). An 18-wide map
with stride 2 is where SAME's padding is odd, hence asymmetric. The Flatten reads (h, w, c) in every arm (the
torch arms permute to NHWC first), so flatten-order's pitfall stays out of it.
"""

from __future__ import annotations

from paritybench.workloads.kit import conv
from paritybench.workloads.kit.folder import Folder
from paritybench.workloads.pool_padding.evidence import MEASURED

SIDE = 28
CROP = 4  # MNIST's blank frame: the digits sit in the central 20x20
FILTERS = 4
KERNEL = 3
CONV_SIDE = 18  # 20 - 3 + 1, "valid"
POOL = 3
POOL_STRIDE = 2
OUT_SIDE = 9  # ceil(18 / 2) for SAME; (18 + 2 - 3) // 2 + 1 for torch's padding=1: equal, so the port loads
FLAT = OUT_SIDE * OUT_SIDE * FILTERS
F = Folder("paritybench.workloads.pool_padding")

PARAMS = conv.conv_dense_params(KERNEL, FILTERS, FLAT)
_EXCLUDE = {"average pooling": "SAME (0, 1), padded cells excluded from the divisor"}
_INCLUDE = {"average pooling": "SAME (0, 1), divisor 9: padded cells counted (count_include_pad=True)"}
_TORCH_PAD1 = {"average pooling": "explicit (1, 1), divisor 9: padded cells counted (count_include_pad=True)"}
_REPLICATE = {"average pooling": "SAME (0, 1) replicate-padded, divisor 9"}

ARMS = (
    F.port(
        "jax-pool-include-pad",
        "the JAX port: lax.reduce_window(..., 'SAME') / 9, as flax.linen.avg_pool's default count_include_pad=True",
        "logits",
        _INCLUDE,
        forward="include_pad",
    ),
    F.port(
        "jax-pool-torch-pad",
        "JAX twin of torch's nn.AvgPool2d(3, stride=2, padding=1): padded (1, 1), divisor 9",
        "logits",
        _TORCH_PAD1,
        forward="torch_pad",
    ),
    F.fix(
        "jax-pool-exclude-pad",
        "the fix: the SAME sum over the count of real cells, as TensorFlow and Keras-JAX; BCE from logits",
        "logits",
        _EXCLUDE,
    ),
    F.jax_arm(
        "jax-pool-exclude-pad-keras-clip",
        "Keras-JAX in JAX: padded cells excluded, BCE on p clipped to [1e-7, 1-1e-7]",
        "keras_clip",
        role="emulation",
        emulates="keras-jax",
        conventions={**_EXCLUDE, "loss path": "sigmoid probabilities clipped"},
    ),
    F.jax_arm(
        "jax-pool-replicate-keras-torch-clip",
        "Keras-torch in JAX: the (0, 1) padding replicates the edge, divisor 9; torch's clipped BCE",
        "keras_torch_clip",
        role="emulation",
        emulates="keras-torch",
        conventions={**_REPLICATE, "loss path": "sigmoid probabilities clamped"},
        forward="replicate",
    ),
    F.torch_port(
        "torch-avgpool-pad1",
        "native torch port: nn.AvgPool2d(3, stride=2, padding=1), count_include_pad=True (torch's defaults)",
        "bce_logits",
        _TORCH_PAD1,
        forward="pad1",
        matches="jax-pool-torch-pad",
    ),
    F.torch_fix(
        "torch-avgpool-exclude",
        "native torch, the fix: F.pad(x, (0, 1, 0, 1)), the window sums over the count of real cells",
        "bce_logits",
        _EXCLUDE,
        torch_apply=F.torch("apply_exclude"),
        torch_layers=F.torch("layers"),
        matches="jax-pool-exclude-pad",
    ),
    *F.keras_arms(
        tensorflow="tf.nn.avg_pool SAME, padded cells excluded",
        jax="reduce_window sum over window_counts, padded cells excluded",
        torch="(0, 1) replicate-padded, then avg_pool2d over 9 cells",
        conventions={"average pooling": "same"},
    ),
    F.reference("JAX in float64, padded cells excluded, BCE from logits: the ground truth", _EXCLUDE),
)

WORKLOAD = F.workload(
    name="pool-padding",
    question="Does AveragePooling2D(3, strides=2, padding='same') ported to flax's avg_pool, a reduce_window "
    "over 9 or torch's nn.AvgPool2d(padding=1) average the border windows as TensorFlow does, and does every Keras "
    "backend?",
    sources=(
        "tensorflow/tensorflow#45579",
        "tf-encrypted/tf-encrypted#75",
        "apache/tvm#1144",
        "keras-team/keras#18452",
        "keras-team/keras#23233",
    ),
    data=conv.DATA,
    training=conv.TRAINING,
    model=F.conv_model(PARAMS, {"conv/relu": 2, "pool": 3}, "apply_exclude"),
    arms=ARMS,
    measured=MEASURED,
    fix="jax-pool-exclude-pad",
)
