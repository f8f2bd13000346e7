"""TensorFlow: numerics read-back, the Keras per-sample probe, device sync (siblings: jax.py, torch.py)."""

from __future__ import annotations

import os

from paritybench.experiment.flags import NumericsOptions


def read_back(opts: NumericsOptions) -> dict:
    """Configure and read back TensorFlow's determinism, TF32, oneDNN and threads; warnings for what did not take."""
    import tensorflow as tf  # late: a framework: loads after the numerics flags

    out: dict = {"warnings": []}
    if opts.deterministic:
        try:
            tf.config.experimental.enable_op_determinism()
        except Exception as exc:  # recorded, never silent
            out["warnings"].append(f"enable_op_determinism failed: {exc}")
        try:
            tf.config.experimental.enable_tensor_float_32_execution(False)
        except Exception as exc:
            out["warnings"].append(f"disabling TF32 failed: {exc}")
    if opts.threads is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(int(opts.threads))
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError as exc:
            out["warnings"].append(f"thread counts not set: {exc}")
    try:
        from tensorflow.python.framework import config as tfconfig  # late: a framework: loads after the numerics flags

        out["op_determinism"] = bool(tfconfig.is_op_determinism_enabled())
    except Exception as exc:
        out["op_determinism"] = None
        out["warnings"].append(f"could not read op determinism back: {exc}")
    out["tensor_float_32"] = bool(tf.config.experimental.tensor_float_32_execution_enabled())
    # 0 is TensorFlow's "choose for me" (all cores for intra-op).
    out["intra_op_threads"] = tf.config.threading.get_intra_op_parallelism_threads()
    out["inter_op_threads"] = tf.config.threading.get_inter_op_parallelism_threads()
    out["onednn_env"] = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "(default)")
    try:
        from tensorflow.python.util import _pywrap_util_port  # late: a framework: loads after the numerics flags

        # Reflects TF_ENABLE_ONEDNN_OPTS and the CPU (on by default with AVX-512 VNNI and similar).
        out["onednn_enabled"] = bool(_pywrap_util_port.IsMklEnabled())
    except Exception as exc:
        out["onednn_enabled"] = None
        out["warnings"].append(f"could not read oneDNN state back: {exc}")
    out["devices"] = [d.name for d in tf.config.list_logical_devices()]
    if opts.deterministic and out["op_determinism"] is False:
        out["warnings"].append("TensorFlow op determinism is off")
    if opts.deterministic and out["tensor_float_32"]:
        out["warnings"].append("TensorFlow TF32 execution is still on")
    if opts.onednn is not None and out["onednn_enabled"] is not None and out["onednn_enabled"] != opts.onednn:
        out["warnings"].append(
            f"oneDNN requested {'on' if opts.onednn else 'off'} but TensorFlow reports "
            f"{'on' if out['onednn_enabled'] else 'off'}"
        )
    if opts.threads is not None and out["intra_op_threads"] != opts.threads:
        out["warnings"].append(f"intra-op threads are {out['intra_op_threads']}, not {opts.threads}")
    return out


def probe(keras, logits, loss):
    """``probe(x, y) -> (z, dz)`` by TensorFlow's autodiff, in a ``tf.function`` as ``fit`` runs:
    Keras's sigmoid/softmax cache their logits (``_keras_logits``) only on graph tensors, so only
    there does the loss see what ``fit``'s loss sees."""
    import tensorflow as tf  # late: a framework: loads after the numerics flags

    @tf.function
    def run(x, y):
        z = logits(x)
        with tf.GradientTape() as tape:
            tape.watch(z)
            per_sample = loss(y, z)
        return z, tape.gradient(per_sample, z)

    return run


def sync(x):
    """TensorFlow's eager ops return computed tensors: nothing to wait for."""
    return x
