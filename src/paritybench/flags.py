"""Numerics flags: set in the environment *before* any framework is imported,
then read back after import and recorded as they actually took effect.

This module imports no framework at module level. ``apply`` changes
``os.environ`` of the current process (and so of every subprocess it starts);
the ``read_back_*`` functions are called once the framework is loaded.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass

# Variables that change what a framework computes or how; recorded in every artifact.
NUMERICS_ENV_VARS = (
    "XLA_FLAGS", "XLA_PYTHON_CLIENT_PREALLOCATE", "JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION",
    "JAX_PLATFORMS", "TF_ENABLE_ONEDNN_OPTS", "TF_DETERMINISTIC_OPS", "TF_CUDNN_DETERMINISTIC",
    "NVIDIA_TF32_OVERRIDE", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS",
    "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG", "CUDA_VISIBLE_DEVICES",
    "KERAS_BACKEND", "PYTHONHASHSEED",
)


# Keras's global seed (Python, NumPy and backend RNGs). The arms take every initial weight
# from stax, so nothing random should be drawn; the seed makes sure of it if Keras ever does.
KERAS_SEED = 0


@dataclass(frozen=True)
class NumericsOptions:
    """Choices that change rounding; each is recorded in the artifact's config.

    ``onednn``: None leaves TensorFlow's default (oneDNN on for x86 CPUs with
    AVX-512 VNNI and similar), True/False force it. ``threads``: None leaves each
    framework's default, an int caps intra-op threads (and inter-op to 1).
    """

    deterministic: bool = True
    onednn: bool | None = None
    threads: int | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def env_for(opts: NumericsOptions, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables ``opts`` needs, merged over ``base`` (default os.environ)."""
    env = dict(os.environ if base is None else base)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if opts.deterministic:
        flags = env.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            env["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip()
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
        env["JAX_DEFAULT_MATMUL_PRECISION"] = "highest"
        env["TF_DETERMINISTIC_OPS"] = "1"
        env["TF_CUDNN_DETERMINISTIC"] = "1"
        env["NVIDIA_TF32_OVERRIDE"] = "0"  # TF32 off in cuBLAS/cuDNN for TF and others
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # required by torch deterministic cuBLAS
        env["PYTHONHASHSEED"] = "0"
    if opts.onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = "1" if opts.onednn else "0"
    if opts.threads is not None:
        t = str(int(opts.threads))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            env[var] = t
        env["TF_NUM_INTEROP_THREADS"] = "1"
        if int(opts.threads) == 1:
            # XLA:CPU has no thread-count flag; single-threaded Eigen is the one cap it offers
            # (read_back_jax records a warning for any other count it cannot honour).
            flags = env.get("XLA_FLAGS", "")
            if "xla_cpu_multi_thread_eigen" not in flags:
                env["XLA_FLAGS"] = (flags + " --xla_cpu_multi_thread_eigen=false").strip()
    return env


def xla_flag(flags: str, name: str) -> str | None:
    """The value of ``--name=value`` (or ``--name`` alone: "true") in an XLA_FLAGS string; None if absent."""
    value = None
    for token in flags.split():
        key, sep, val = token.removeprefix("--").partition("=")
        if key == name:
            value = val if sep else "true"  # the last one wins, as in XLA's parser
    return value


def apply(opts: NumericsOptions) -> dict[str, str]:
    """Set ``opts`` in this process's environment; call before importing any framework."""
    import sys

    loaded = [m for m in ("jax", "tensorflow", "torch", "keras") if m in sys.modules]
    env = env_for(opts)
    os.environ.update(env)
    applied = {k: env[k] for k in NUMERICS_ENV_VARS if k in env}
    if loaded:
        applied["_warning"] = f"frameworks already imported before flags were set: {loaded}"
    return applied


def numerics_env_snapshot() -> dict[str, str]:
    """The numerics environment variables in force now: NUMERICS_ENV_VARS and every other one
    with a numerics prefix (paritybench.numerics_env.snapshot), sorted by name."""
    from .numerics_env import snapshot

    out = {k: os.environ[k] for k in NUMERICS_ENV_VARS if k in os.environ}
    out.update(snapshot())
    return dict(sorted(out.items()))


def collect_warnings(environment: dict, applied: dict | None = None) -> list[str]:
    """Every read-back warning in ``environment["frameworks"]``, each prefixed with its process.

    Read-backs keep their own ``warnings`` lists (the Keras workers nest theirs under
    ``numerics``); this gathers them into one list for ``environment["warnings"]``, so a
    flag that did not take effect is visible at the top of the artifact, never silent.
    ``applied`` is what ``apply`` returned: its ``_warning`` (flags set after a framework
    was imported) is included too.
    """
    out: list[str] = [f"environment: {w}" for w in environment.get("numerics_env_warnings") or []]
    if applied and applied.get("_warning"):
        out.append(f"flags: {applied['_warning']}")

    def walk(prefix: str, node) -> None:
        if isinstance(node, dict):
            for w in node.get("warnings") or []:
                out.append(f"{prefix}: {w}")
            for key, value in node.items():
                if key != "warnings" and isinstance(value, dict):
                    walk(prefix, value)

    for name, fw in (environment.get("frameworks") or {}).items():
        walk(name, fw)
    return out


def _seed_keras(out: dict) -> None:
    """``keras.utils.set_random_seed`` when Keras is loaded (the workers), recorded as set."""
    import sys

    if "keras" not in sys.modules:
        return
    try:
        sys.modules["keras"].utils.set_random_seed(KERAS_SEED)
        out["keras_random_seed"] = KERAS_SEED
    except Exception as exc:  # recorded, never silent
        out["keras_random_seed"] = None
        out["warnings"].append(f"keras.utils.set_random_seed failed: {exc}")


def read_back_jax(opts: NumericsOptions) -> dict:
    """Configure and read back JAX's numerics settings; warnings for what did not take."""
    import jax

    out: dict = {"warnings": []}
    if opts.deterministic:
        jax.config.update("jax_default_matmul_precision", "highest")
    out["jax_default_matmul_precision"] = str(jax.config.jax_default_matmul_precision)
    out["jax_enable_x64"] = bool(jax.config.jax_enable_x64)
    xla_flags = os.environ.get("XLA_FLAGS", "")
    out["xla_flags"] = xla_flags
    out["xla_gpu_deterministic_ops"] = xla_flag(xla_flags, "xla_gpu_deterministic_ops")
    out["xla_cpu_multi_thread_eigen"] = xla_flag(xla_flags, "xla_cpu_multi_thread_eigen")
    out["preallocate"] = os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "(default: true)")
    out["devices"] = [str(d) for d in jax.devices()]
    out["backend"] = jax.default_backend()
    _seed_keras(out)
    if opts.deterministic:
        # "float32" and "highest" are the same setting under two names (full fp32 passes).
        if out["jax_default_matmul_precision"] not in ("highest", "float32", "Precision.HIGHEST"):
            out["warnings"].append(f"jax_default_matmul_precision is {out['jax_default_matmul_precision']}, "
                                   "not highest")
        if (out["xla_gpu_deterministic_ops"] or "").lower() not in ("true", "1"):
            out["warnings"].append(f"XLA_FLAGS has --xla_gpu_deterministic_ops={out['xla_gpu_deterministic_ops']}"
                                   " although deterministic mode is on")
        if out["preallocate"] != "false":
            out["warnings"].append(f"XLA_PYTHON_CLIENT_PREALLOCATE is {out['preallocate']}, not false")
    if opts.threads is not None and opts.threads != 1 and opts.threads < (os.cpu_count() or 1):
        # XLA:CPU sizes its pool from the cores it sees; only 1 (single-threaded Eigen) can be forced.
        out["warnings"].append(f"--threads {opts.threads}: XLA:CPU cannot be capped at {opts.threads} threads "
                               f"(it uses all {os.cpu_count()} cores; only --threads 1 is honoured)")
    return out


def read_back_tensorflow(opts: NumericsOptions) -> dict:
    """Configure and read back TensorFlow's determinism, TF32, oneDNN and threads; warnings for what did not take."""
    import tensorflow as tf

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
        from tensorflow.python.framework import config as tfconfig

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
        from tensorflow.python.util import _pywrap_util_port

        # Reflects TF_ENABLE_ONEDNN_OPTS and the CPU (on by default with AVX-512 VNNI and similar).
        out["onednn_enabled"] = bool(_pywrap_util_port.IsMklEnabled())
    except Exception as exc:
        out["onednn_enabled"] = None
        out["warnings"].append(f"could not read oneDNN state back: {exc}")
    out["devices"] = [d.name for d in tf.config.list_logical_devices()]
    _seed_keras(out)
    if opts.deterministic and out["op_determinism"] is False:
        out["warnings"].append("TensorFlow op determinism is off")
    if opts.deterministic and out["tensor_float_32"]:
        out["warnings"].append("TensorFlow TF32 execution is still on")
    if opts.onednn is not None and out["onednn_enabled"] is not None and out["onednn_enabled"] != opts.onednn:
        out["warnings"].append(f"oneDNN requested {'on' if opts.onednn else 'off'} but TensorFlow reports "
                               f"{'on' if out['onednn_enabled'] else 'off'}")
    if opts.threads is not None and out["intra_op_threads"] != opts.threads:
        out["warnings"].append(f"intra-op threads are {out['intra_op_threads']}, not {opts.threads}")
    return out


def read_back_torch(opts: NumericsOptions) -> dict:
    """Configure and read back torch's determinism, cuDNN, TF32 and threads; warnings for what did not take."""
    import torch

    out: dict = {"warnings": []}
    if opts.deterministic:
        try:
            torch.use_deterministic_algorithms(True)
        except Exception as exc:
            out["warnings"].append(f"use_deterministic_algorithms failed: {exc}")
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
        torch.set_float32_matmul_precision("highest")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    if opts.threads is not None:
        torch.set_num_threads(int(opts.threads))
    out["deterministic_algorithms"] = bool(torch.are_deterministic_algorithms_enabled())
    out["cudnn_deterministic"] = bool(torch.backends.cudnn.deterministic)
    out["cudnn_benchmark"] = bool(torch.backends.cudnn.benchmark)
    out["float32_matmul_precision"] = torch.get_float32_matmul_precision()
    out["cuda_matmul_allow_tf32"] = bool(torch.backends.cuda.matmul.allow_tf32)
    out["cudnn_allow_tf32"] = bool(torch.backends.cudnn.allow_tf32)
    out["cublas_workspace_config"] = os.environ.get("CUBLAS_WORKSPACE_CONFIG")
    out["num_threads"] = torch.get_num_threads()
    out["devices"] = ["cpu"] + [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    _seed_keras(out)
    if opts.deterministic:
        expected = {"deterministic_algorithms": True, "cudnn_deterministic": True, "cudnn_benchmark": False,
                    "float32_matmul_precision": "highest", "cuda_matmul_allow_tf32": False,
                    "cudnn_allow_tf32": False}
        for key, want in expected.items():
            if out[key] != want:
                out["warnings"].append(f"torch {key} is {out[key]}, not {want}")
        if torch.cuda.is_available() and not out["cublas_workspace_config"]:
            # Without it, cuBLAS matmuls raise under deterministic algorithms (or are nondeterministic).
            out["warnings"].append("CUBLAS_WORKSPACE_CONFIG is not set on a CUDA machine")
    if opts.threads is not None and out["num_threads"] != opts.threads:
        out["warnings"].append(f"torch uses {out['num_threads']} threads, not {opts.threads}")
    return out


READ_BACK = {"jax": read_back_jax, "tensorflow": read_back_tensorflow, "torch": read_back_torch}
