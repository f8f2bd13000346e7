"""mixed-precision in JAX: Keras's initial weights, the 784-32-10 tanh MLP in three precisions, and the update.

- ``apply`` (the model's, the float64 reference's and the float32 port's): every op in the parameters' dtype.
- ``apply_mixed`` (the fix, and the bf16-weights port's forward pass): what Keras's ``mixed_bfloat16`` policy
  computes: the input and each Dense's kernel and bias cast to bfloat16 (``Layer.__call__`` casts the
  inputs to the compute dtype, ``dtype_policy.convert_input`` at ``keras/src/layers/layer.py:886``, and opens
  an ``AutocastScope(compute_dtype)``, ``layer.py:994``, under which a float32 variable's value is cast where the
  layer reads it, ``keras/src/backend/common/variables.py:246-248``), the matmul, bias and
  tanh in bfloat16, and the logits cast back to float32 for the float32 softmax/CE (the model's softmax
  layer is float32).
- ``bf16_sgd`` (the port's optimizer): SGD on bfloat16 weights with no float32 master copy, as
  ``params = jax.tree.map(lambda p: p.astype(jnp.bfloat16), params)`` then ``p - lr * g`` writes it:
  ``w <- bf16(bf16(w) - bf16(lr) * bf16(g))``, each product and difference rounded to bfloat16 (8-bit
  significand), so an update smaller than half a bf16 ulp of the weight is lost.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from paritybench.workloads.kit.ce import keras_clip as keras_clip
from paritybench.workloads.kit.ce import keras_torch_clip as keras_torch_clip
from paritybench.workloads.kit.ce import logits as logits
from paritybench.workloads.kit.init import keras_init
from paritybench.workloads.mixed_precision.workload import PARAMS

__all__ = ["apply", "apply_mixed", "apply_mixed_tf", "bf16_sgd", "bias_add_tf", "init"]


init = keras_init(PARAMS)  # Keras's default initial weights, drawn with NumPy (kit.init.glorot_uniform)


def _add(h, b):
    return h + b


@jax.custom_vjp
def bias_add_tf(h, b):
    """``h + b`` whose bias gradient is summed over the batch one row at a time in ``b``'s dtype, as
    TensorFlow's CPU ``BiasAddGrad`` sums a bfloat16 gradient (what Keras-TF's Dense reaches: ``ops.add`` is
    ``tf.nn.bias_add`` when the second operand looks like a bias, ``keras/src/backend/tensorflow/numpy.py:
    129``). Measured: ``tf.raw_ops.BiasAddGrad`` on this workload's step-1 bfloat16 ``dL/dz`` equals that
    sequential bfloat16 sum bit for bit, and 512 ones sum to 256 (``tests/test_workload_mixed_precision.py``).
    """
    return h + b


def _bias_add_tf_fwd(h, b):
    return h + b, None


def _bias_add_tf_bwd(_, g):
    def row(acc, r):
        return (acc + r).astype(g.dtype), None

    db, _ = jax.lax.scan(row, jnp.zeros(g.shape[-1], g.dtype), g)
    return g, db


bias_add_tf.defvjp(_bias_add_tf_fwd, _bias_add_tf_bwd)


def _forward(params, x, dt, add=_add):
    p = {k: v.astype(dt) for k, v in params.items()}
    h = jnp.tanh(add(x.astype(dt) @ p["dense_0/kernel"], p["dense_0/bias"]))
    return add(h @ p["dense_1/kernel"], p["dense_1/bias"])


def apply(params, x):
    """The logits, every op in the parameters' dtype (float32, or float64 for the reference)."""
    return _forward(params, x, params["dense_0/kernel"].dtype)


def apply_mixed(params, x):
    """The logits as ``mixed_bfloat16`` computes them: inputs and weights cast to bfloat16, the two Dense
    layers and tanh in bfloat16, the logits cast to float32. The gradient flows back through the casts, so
    float32 weights receive the bfloat16 gradient's values."""
    return _forward(params, x, jnp.bfloat16).astype(jnp.float32)


def apply_mixed_tf(params, x):
    """``apply_mixed`` with each Dense's bias gradient summed in bfloat16 row by row (``bias_add_tf``):
    Keras-TF's mixed_bfloat16 update on a CPU."""
    return _forward(params, x, jnp.bfloat16, bias_add_tf).astype(jnp.float32)


def _bf16(a):
    """``a`` rounded to the nearest bfloat16 (8 exponent bits, 7 stored significand bits), kept in its dtype.

    ``lax.reduce_precision`` and not ``a.astype(bfloat16).astype(float32)``: XLA's default
    ``xla_allow_excess_precision=true`` removes that round trip inside a jitted program (measured: written with
    ``astype``, the jitted trainer left 75% of dense_0/kernel's entries off the bfloat16 grid after one step at
    lr 0.1; a jitted ``w + (bf16(w - lr g) - w)`` on 1e5 entries leaves 95.4% off it by default and 0.08% under
    ``XLA_FLAGS=--xla_allow_excess_precision=false``)."""
    return jax.lax.reduce_precision(a, exponent_bits=8, mantissa_bits=7)


def bf16_sgd(learning_rate: float) -> optax.GradientTransformation:
    """SGD on bfloat16 weights without a float32 master copy, written as optax updates on the runner's float32
    parameters: the new weight is ``bf16(bf16(w) - bf16(bf16(lr) * bf16(g)))``, each operation rounded to
    bfloat16 as it is on bfloat16 arrays (a product of two bfloat16 values is exact in float32, and so is the
    difference of two nearby ones, so one rounding after each is bfloat16 arithmetic), and the update is that
    minus ``w``. The difference of two nearby bfloat16 values is exact in float32, so ``apply_updates`` lands
    on the new weight exactly (the first step, from float32 initial weights, lands within a float32 ulp, which
    the next step's ``bf16(w)`` rounds back)."""

    def init_fn(params):
        del params
        return optax.EmptyState()

    def update_fn(grads, state, params=None):
        def one(g, w):
            lr = _bf16(jnp.asarray(learning_rate, w.dtype))
            return _bf16(_bf16(w) - _bf16(lr * _bf16(g))) - w

        return jax.tree.map(one, grads, params), state

    return optax.GradientTransformation(init_fn, update_fn)
