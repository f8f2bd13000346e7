"""The layout rules between Keras/JAX and torch weights, each written once as a small named transform (NumPy only).

Two layout families exist among the frameworks paritybench compares. *Channels-last* (Keras 3, JAX/flax):
a dense kernel is ``(in, out)``, a convolution kernel is ``(*spatial, in, out)`` (HWIO, WIO), a feature map is
``(N, *spatial, C)``. *Channels-first* (torch): a ``Linear`` weight is ``(out, in)``, a ``Conv*d`` weight is
``(out, in, *spatial)`` (OIHW, OIW), a feature map is ``(N, C, *spatial)``. Where each framework says so, in the
installed sources:

- Keras Dense kernel ``(input_shape[-1], units)``: keras/src/layers/core/dense.py:125.
  torch Linear weight ``(out_features, in_features)``: torch/nn/modules/linear.py:108-109.
- Keras Conv kernel ``kernel_size + (input_channel // groups, filters)``: keras/src/layers/convolutional/
  base_conv.py:193-196. torch Conv weight ``(out_channels, in_channels // groups, *kernel_size)``:
  torch/nn/modules/conv.py:169-171 (the transposed convolutions, conv.py:162-164, are another layout and have
  no rule here).
- Keras Embedding ``embeddings`` ``(input_dim, output_dim)``: keras/src/layers/core/embedding.py:149, :157-160;
  torch Embedding weight ``(num_embeddings, embedding_dim)``: torch/nn/modules/sparse.py:165-166. Same layout.
- Keras Flatten always flattens channels-last: a ``channels_first`` input is transposed to channels-last first
  (keras/src/layers/reshaping/flatten.py:46-48, then the reshape at :58). torch ``nn.Flatten`` reshapes the
  ``(N, C, *spatial)`` map as it lies. So the first Dense after a convolution's Flatten sees its inputs in
  ``(*spatial, C)`` order in Keras and ``(C, *spatial)`` order in torch: its kernel rows must be permuted.
- LSTM. Keras: kernel ``(input_dim, 4 * units)`` and recurrent_kernel ``(units, 4 * units)``
  (keras/src/layers/rnn/lstm.py:150-151, :157-158), gates in the order i, f, c, o (lstm.py:246
  ``k_i, k_f, k_c, k_o = ops.split(self.kernel, 4, axis=1)``), ONE bias ``(4 * units,)`` (lstm.py:185-186,
  split i, f, c, o at :252). torch: weight_ih ``(4 * hidden, input)`` ``(W_ii|W_if|W_ig|W_io)``, weight_hh
  ``(4 * hidden, hidden)``, TWO biases b_ih and b_hh, each ``(4 * hidden,)`` (torch/nn/modules/rnn.py:933-944,
  the equations at :840-845: every gate adds ``b_i* + b_h*``). The gate orders agree (Keras's c is torch's g,
  the tanh cell candidate), so a kernel is only transposed; the biases are one sum: Keras's bias maps to
  ``b_ih`` with ``b_hh = 0``, and torch's ``b_ih + b_hh`` maps to Keras's bias. Copying Keras's bias into both
  of torch's counts it twice.
- GRU. Keras: kernel ``(input_dim, 3 * units)``, recurrent_kernel ``(units, 3 * units)`` (keras/src/layers/
  rnn/gru.py:148-157), gates z, r, h (gru.py:207-216, the update gate z first); with ``reset_after=True`` (the
  default, gru.py:103) the bias is ``(2, 3 * units)``: row 0 the input bias, row 1 the recurrent bias
  (gru.py:163-171, split at :187-193), and the reset gate multiplies the recurrent term after its matmul and
  bias (gru.py:245-248); ``h = z * h_tm1 + (1 - z) * hh`` (gru.py:296). torch: weight_ih ``(W_ir|W_iz|W_in)``
  ``(3 * hidden, input)``, weight_hh ``(W_hr|W_hz|W_hn)``, b_ih ``(b_ir|b_iz|b_in)``, b_hh ``(b_hr|b_hz|b_hn)``
  (torch/nn/modules/rnn.py:1285-1293), gates r, z, n, with ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))``
  and ``h' = (1 - z) * n + z * h`` (rnn.py:1216-1219): Keras's reset_after=True cell. So the first two gate
  blocks swap (z, r <-> r, z), the kernels transpose, bias row 0 is b_ih and row 1 is b_hh. A Keras GRU with
  ``reset_after=False`` (reset before the matmul, one ``(3 * units,)`` bias) has no torch twin.
- BatchNorm: Keras gamma, beta, moving_mean, moving_variance (keras/src/layers/normalization/
  batch_normalization.py:243-269) are torch's weight, bias, running_mean, running_var (torch/nn/modules/
  batchnorm.py:58-75), same shapes. torch's ``num_batches_tracked`` buffer (batchnorm.py:75-76) has no Keras
  twin; torch reads it only when ``momentum=None`` (a cumulative average, batchnorm.py:182-193). The epsilons
  (Keras 1e-3, batch_normalization.py:164; torch 1e-5, batchnorm.py:41) and momenta (Keras 0.99 keeps the old
  value, torch 0.1 takes the new one) are hyperparameters, not weights: they are not mapped.
- LayerNorm: Keras gamma, beta (keras/src/layers/normalization/layer_normalization.py:161-174), torch weight,
  bias (torch/nn/modules/normalization.py:206-210), same shapes; epsilon 1e-3 (layer_normalization.py:108)
  against 1e-5 (normalization.py:191), not mapped.

- equinox (``equinox.nn``, a JAX library laid out as torch is): ``Linear.weight`` ``(out_features,
  in_features)``, bias ``(out_features,)`` (equinox/nn/_linear.py:58-61, applied as ``weight @ x`` at :97);
  ``Conv``'s weight ``(out_channels, in_channels // groups, *kernel_size)`` (OIHW) and its bias
  ``(out_channels, 1, ..., 1)``, one 1 per spatial axis (equinox/nn/_conv.py:171-174), on an unbatched
  ``(in_channels, *spatial)`` input, returning ``(out_channels, *spatial)`` (_conv.py:211-250): a Flatten of
  it (``x.reshape(-1)``) is channels-first, as torch's. ``Embedding.weight`` ``(num_embeddings,
  embedding_size)`` (_embedding.py:65-81), ``LayerNorm.weight``/``bias`` of the normalised shape
  (_normalisation.py:98-99): Keras's layouts. ``LSTMCell``: ``weight_ih`` ``(4 * hidden, input)``, ``weight_hh``
  ``(4 * hidden, hidden)``, ONE bias ``(4 * hidden,)``, gates i, f, g, o (_rnn.py:167-172, :194-197): Keras's
  LSTM transposed, its bias as it is. ``GRUCell`` (``bias`` on the input gates and ``bias_n`` on the
  recurrent candidate only, _rnn.py:69-78, :104-109) has no rule: Keras's reset and update gates carry a
  recurrent bias it does not have.

A transform is named by a spec string: its name, and for the two Flatten rules the feature shape before the
Flatten in the source's own order, e.g. ``flatten_to_channels_first(7,7,32)``. Every transform takes the source
arrays (most take one) and the target's shape, and returns the target array.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from paritybench.errors import ParityError

Arrays = Sequence[np.ndarray]


@dataclass(frozen=True)
class Transform:
    """One named layout rule: ``fn(sources, args, target_shape) -> target``; ``arity`` source arrays.

    ``gather``: every target element is one source element, moved (a transpose, a gate swap, a row
    permutation): the rule is then fully described by :func:`gather_index`, which a framework applies as one
    differentiable index operation. ``sum``, ``zeros`` and ``keep`` compute or make up values and are not."""

    name: str
    arity: int
    fn: Callable[[Arrays, tuple[int, ...], tuple[int, ...]], np.ndarray]
    doc: str
    gather: bool = True


def _kernel_to_oi(a: np.ndarray) -> np.ndarray:
    """(*spatial, in, out) -> (out, in, *spatial)."""
    if a.ndim < 3:
        raise ValueError(f"a convolution kernel has 3 or more axes, this one {a.shape}")
    n = a.ndim
    return np.transpose(a, (n - 1, n - 2, *range(n - 2)))


def _kernel_from_oi(a: np.ndarray) -> np.ndarray:
    """(out, in, *spatial) -> (*spatial, in, out)."""
    if a.ndim < 3:
        raise ValueError(f"a convolution kernel has 3 or more axes, this one {a.shape}")
    n = a.ndim
    return np.transpose(a, (*range(2, n), 1, 0))


def _swap_first_two_gates(a: np.ndarray, axis: int) -> np.ndarray:
    """Keras's GRU gates z, r, h and torch's r, z, n differ by a swap of the first two blocks (its own inverse)."""
    z, r, h = np.split(a, 3, axis=axis)
    return np.concatenate([r, z, h], axis=axis)


def _matrix(a: np.ndarray) -> np.ndarray:
    if a.ndim != 2:
        raise ValueError(f"a matrix has 2 axes, this one {a.shape}")
    return a


def _flatten_to_channels_first(a: np.ndarray, before: tuple[int, ...]) -> np.ndarray:
    """Keras/JAX kernel (prod(before), out), rows in (*spatial, C) order -> torch weight (out, prod), (C, *spatial)."""
    k = _matrix(a).reshape(*before, a.shape[1])
    n = len(before)
    rows_cf = np.transpose(k, (n - 1, *range(n - 1), n))  # C first, then the spatial axes, then out
    return rows_cf.reshape(a.shape[0], a.shape[1]).T


def _flatten_from_channels_first(a: np.ndarray, before: tuple[int, ...]) -> np.ndarray:
    """torch weight (out, prod(before)), columns in (C, *spatial) order -> Keras/JAX kernel, rows (*spatial, C)."""
    w = _matrix(a).T.reshape(*before, a.shape[0])
    n = len(before)
    rows_cl = np.transpose(w, (*range(1, n), 0, n))  # the spatial axes, then C, then out
    return rows_cl.reshape(a.shape[1], a.shape[0])


def _check_before(args: tuple[int, ...], a: np.ndarray, rows_axis: int) -> tuple[int, ...]:
    if len(args) < 2 or int(np.prod(args)) != a.shape[rows_axis]:
        raise ValueError(f"the feature shape before Flatten {args} does not multiply to {a.shape[rows_axis]}")
    return args


TRANSFORMS: dict[str, Transform] = {
    t.name: t
    for t in (
        Transform("identity", 1, lambda s, _a, _t: s[0], "copied as it is"),
        Transform("transpose", 1, lambda s, _a, _t: _matrix(s[0]).T, "(in, out) <-> (out, in): Dense/Linear, LSTM"),
        Transform(
            "hwio_to_oihw", 1, lambda s, _a, _t: _kernel_to_oi(s[0]), "conv kernel (*k, in, out) -> (out, in, *k)"
        ),
        Transform(
            "oihw_to_hwio", 1, lambda s, _a, _t: _kernel_from_oi(s[0]), "conv kernel (out, in, *k) -> (*k, in, out)"
        ),
        Transform(
            "gru_kernel_to_torch",
            1,
            lambda s, _a, _t: _swap_first_two_gates(_matrix(s[0]), 1).T,
            "Keras (in, 3u) gates z,r,h -> torch (3u, in) gates r,z,n",
        ),
        Transform(
            "gru_kernel_from_torch",
            1,
            lambda s, _a, _t: _swap_first_two_gates(_matrix(s[0]), 0).T,
            "torch (3u, in) gates r,z,n -> Keras (in, 3u) gates z,r,h",
        ),
        Transform(
            "gru_input_bias_to_torch",
            1,
            lambda s, _a, _t: _swap_first_two_gates(s[0][0], 0),
            "Keras bias row 0 (input) z,r,h -> torch b_ih r,z,n",
        ),
        Transform(
            "gru_recurrent_bias_to_torch",
            1,
            lambda s, _a, _t: _swap_first_two_gates(s[0][1], 0),
            "Keras bias row 1 (recurrent) z,r,h -> torch b_hh r,z,n",
        ),
        Transform(
            "gru_bias_from_torch",
            2,
            lambda s, _a, _t: np.stack([_swap_first_two_gates(s[0], 0), _swap_first_two_gates(s[1], 0)]),
            "torch b_ih, b_hh r,z,n -> Keras bias (2, 3u) rows input, recurrent, gates z,r,h",
        ),
        Transform(
            "reshape",
            1,
            lambda s, _a, t: np.reshape(s[0], t),
            "the same elements in another shape: a conv bias (C,) <-> equinox's (C, 1, ..., 1)",
        ),
        Transform("sum", 2, lambda s, _a, _t: s[0] + s[1], "torch LSTM b_ih + b_hh -> Keras's one bias", False),
        Transform(
            "zeros",
            0,
            lambda _s, _a, t: np.zeros(t),
            "zero: Keras's LSTM has one bias, torch adds b_hh to b_ih",
            False,
        ),
        Transform("keep", 0, lambda _s, _a, t: np.zeros(t), "left as it is (no twin in the source)", False),
        Transform(
            "flatten_to_channels_first",
            1,
            lambda s, a, _t: _flatten_to_channels_first(s[0], _check_before(a, s[0], 0)),
            "Dense after Flatten: Keras/JAX rows (*spatial, C) -> torch columns (C, *spatial), transposed",
        ),
        Transform(
            "flatten_from_channels_first",
            1,
            lambda s, a, _t: _flatten_from_channels_first(s[0], _check_before(a, s[0], 1)),
            "Linear after Flatten: torch columns (C, *spatial) -> Keras/JAX rows (*spatial, C), transposed",
        ),
    )
}
# The conventional names of the 1-D convolution's layouts, for a user's override: the same rule.
TRANSFORMS["wio_to_oiw"] = TRANSFORMS["hwio_to_oihw"]
TRANSFORMS["oiw_to_wio"] = TRANSFORMS["oihw_to_hwio"]

_SPEC = re.compile(r"^\s*([a-z_0-9]+)\s*(?:\(\s*([0-9,\s]*)\))?\s*$")


def parse(spec: str) -> tuple[Transform, tuple[int, ...]]:
    """The transform a spec names and its integer arguments; a ParityError naming the known ones otherwise."""
    m = _SPEC.match(spec)
    if m is None or m.group(1) not in TRANSFORMS:
        known = ", ".join(sorted(TRANSFORMS))
        raise ParityError(f"weight mapping: unknown transform {spec!r}; the transforms are: {known}")
    args = tuple(int(x) for x in (m.group(2) or "").replace(" ", "").split(",") if x)
    return TRANSFORMS[m.group(1)], args


def spec(name: str, *args: int) -> str:
    """The spec string of a transform and its arguments: ``flatten_to_channels_first(7,7,32)``."""
    return f"{name}({','.join(str(a) for a in args)})" if args else name


def apply(spec_text: str, sources: Arrays, target_shape: tuple[int, ...]) -> np.ndarray:
    """Apply a transform spec to the source arrays (ValueError when the arrays do not fit it)."""
    transform, args = parse(spec_text)
    if len(sources) != transform.arity:
        raise ValueError(f"{transform.name} takes {transform.arity} source(s), given {len(sources)}")
    return np.asarray(transform.fn(sources, args, target_shape))


def gather_index(spec_text: str, source_shapes: Sequence[tuple[int, ...]], target_shape: tuple[int, ...]) -> np.ndarray:
    """For a ``gather`` transform: the int64 array of the target's shape whose element is the index of the
    source element it is, in the sources flattened (C order) and concatenated; ``target = concat(flat
    sources)[index]``. Computed by running the NumPy rule itself on the indices, so the rule stays written once
    (ValueError for a transform that computes values: ``sum``, ``zeros``, ``keep``)."""
    transform, _args = parse(spec_text)
    if not transform.gather:
        raise ValueError(f"{transform.name} computes its values; it is not a gather of source elements")
    sizes = [int(np.prod(s)) for s in source_shapes]
    offsets = np.cumsum([0, *sizes[:-1]])
    indices = [
        np.arange(n, dtype=np.int64).reshape(s) + o for n, s, o in zip(sizes, source_shapes, offsets, strict=True)
    ]
    return np.ascontiguousarray(apply(spec_text, indices, target_shape), dtype=np.int64)
