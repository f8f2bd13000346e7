"""Environment variables that change the experiment's numerics from outside: recorded, warned about, or refused.

The frameworks read these at import (JAX: every ``jax.config`` option from
``JAX_<NAME>``, ``jax/_src/config.py``; Keras: ``KERAS_BACKEND``, ``KERAS_HOME``,
``KERAS_MAX_EPOCHS``, ``KERAS_MAX_STEPS_PER_EPOCH``, ``keras/src/backend/config.py``,
and ``keras.json``'s ``floatx`` / ``epsilon``; TensorFlow: ``TF_*``, e.g.
``TF_SET_ONEDNN_FPMATH_MODE`` in ``libtensorflow_framework``; oneDNN, MKL, OpenBLAS,
OpenMP and torch their own). Three tiers:

- refused (one-line error before anything runs): a variable that silently makes
  the experiment a different one while its record says otherwise;
- warned (``environment.numerics_env_warnings``, ``environment.warnings`` via
  ``flags.collect_warnings``, and stderr before training): a user-set variable
  that changes rounding and that paritybench does not set itself;
- recorded only (``environment.numerics_env``): everything else with a numerics
  prefix, e.g. ``CUDA_VISIBLE_DEVICES`` (the device read-backs show its effect).

Variables paritybench sets itself (``flags.env_for``) keep their behaviour: a
user's value for one of them is replaced, so it is neither warned about nor refused.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from paritybench.errors import ParityError
from paritybench.experiment import flags

# Prefixes of variables the numerics stack reads; every one present is recorded.
RECORD_PREFIXES = (
    "XLA_",
    "JAX_",
    "TF_",
    "TPU_",
    "CUDA_",
    "CUBLAS",
    "CUDNN",
    "NVIDIA_TF32",
    "OMP_",
    "KMP_",
    "MKL_",
    "OPENBLAS_",
    "GOTO_",
    "BLIS_",
    "ONEDNN_",
    "DNNL_",
    "TORCH_",
    "ATEN_",
    "PYTORCH_",
    "KERAS_",
    "NCCL_ALGO",
    "PYTHONHASHSEED",
)
# Terraform's TF_* variables share the prefix and mean nothing to TensorFlow.
NOT_NUMERICS_PREFIXES = (
    "TF_CLI_",
    "TF_VAR_",
    "TF_LOG",
    "TF_WORKSPACE",
    "TF_DATA_DIR",
    "TF_INPUT",
    "TF_IN_AUTOMATION",
    "TF_PLUGIN_CACHE",
    "TF_REATTACH",
    "TF_REGISTRY",
    "TF_TOKEN",
    "TF_STATE",
    "TF_APPEND_USER_AGENT",
    "TF_IGNORE",
    "TF_CPP_",
)
# Never recorded: an artifact is shared, and a credential has no business in it.
SECRET_WORDS = ("TOKEN", "SECRET", "PASSWORD", "PASSWD", "CREDENTIAL", "API_KEY", "AUTH")

TRUE = ("y", "yes", "t", "true", "on", "1")  # jax/_src/config.py bool_env's true values


def _truthy(value: str) -> bool:
    return value.strip().lower() in TRUE


def _not_strict(value: str) -> bool:
    return value.strip().upper() not in ("", "STRICT")


# name -> (when it is refused, why). Each reason names what the framework does with it.
REFUSED: dict[str, tuple[Callable[[str], bool], str]] = {
    "JAX_ENABLE_X64": (
        _truthy,
        "JAX would draw stax's initial weights in float64 (seed 0's initial weights "
        "change) and promote Python scalars to float64, so the run is not the recorded "
        "float32 experiment",
    ),
    "JAX_DEBUG_NANS": (
        _truthy,
        "JAX raises FloatingPointError at the first NaN, but a NaN is a result here "
        "(jax-naive's loss is inf at step 0)",
    ),
    "JAX_DEBUG_INFS": (
        _truthy,
        "JAX raises FloatingPointError at the first inf, but an inf is a result here "
        "(jax-naive's loss is inf at step 0)",
    ),
    "JAX_DEFAULT_PRNG_IMPL": (
        lambda v: v.strip() not in ("", "threefry2x32"),
        "stax's initial weights would come from another PRNG than the seed experiment's "
        "threefry2x32, and the artifact's config would not say so",
    ),
    "KERAS_MAX_EPOCHS": (
        lambda v: True,
        "Keras caps every Model.fit at this many epochs: training could stop early without an error",
    ),
    "KERAS_MAX_STEPS_PER_EPOCH": (
        lambda v: True,
        "Keras caps the steps of every Model.fit epoch: training could stop early without an error",
    ),
    "TF_SET_ONEDNN_FPMATH_MODE": (
        _not_strict,
        "TensorFlow's oneDNN kernels would compute float32 matmuls in a lower precision (BF16/TF32)",
    ),
    "ONEDNN_DEFAULT_FPMATH_MODE": (
        _not_strict,
        "oneDNN would compute float32 matmuls in a lower precision (BF16/TF32) in TensorFlow and torch",
    ),
    "DNNL_DEFAULT_FPMATH_MODE": (
        _not_strict,
        "oneDNN would compute float32 matmuls in a lower precision (BF16/TF32) in TensorFlow and torch",
    ),
    "TORCH_ALLOW_TF32_CUBLAS_OVERRIDE": (
        _truthy,
        "torch would run float32 cuBLAS matmuls in TF32 whatever paritybench sets",
    ),
}
# XLA options inside XLA_FLAGS that are refused the same way.
REFUSED_XLA = {
    "xla_cpu_enable_fast_math": "XLA:CPU fast math reassociates sums and assumes no NaN or inf, which hides the "
    "NaN the jax-naive arm must show",
    "xla_gpu_enable_fast_min_max": "XLA:GPU fast min/max drops NaN propagation, which hides the NaN the "
    "jax-naive arm must show",
}
# Flags paritybench puts in XLA_FLAGS itself (flags.env_for).
OWN_XLA = ("xla_gpu_deterministic_ops", "xla_cpu_multi_thread_eigen")

# User-set variables that change rounding or kernels, with what they change (warned when not ours).
WARNED: dict[str, str] = {
    "TF_ENABLE_ONEDNN_OPTS": "turns TensorFlow's oneDNN kernels on or off (pass --onednn on/off to record it in "
    "the config)",
    "OMP_NUM_THREADS": "sets OpenMP thread counts, which can change summation order (use --threads)",
    "MKL_NUM_THREADS": "sets MKL thread counts, which can change summation order (use --threads)",
    "OPENBLAS_NUM_THREADS": "sets OpenBLAS thread counts, which can change summation order (use --threads)",
    "GOTO_NUM_THREADS": "sets OpenBLAS thread counts, which can change summation order (use --threads)",
    "BLIS_NUM_THREADS": "sets BLIS thread counts, which can change summation order (use --threads)",
    "TF_NUM_INTRAOP_THREADS": "sets TensorFlow's intra-op threads, which can change summation order (use --threads)",
    "TF_NUM_INTEROP_THREADS": "sets TensorFlow's inter-op threads (use --threads)",
    "MKL_CBWR": "selects MKL's code path for reproducibility, which changes its kernels",
    "MKL_ENABLE_INSTRUCTIONS": "limits the instruction set MKL's kernels use",
    "MKL_DEBUG_CPU_TYPE": "forces MKL's kernels for another CPU type",
    "OPENBLAS_CORETYPE": "forces OpenBLAS's kernels for another CPU",
    "ONEDNN_MAX_CPU_ISA": "limits the instruction set oneDNN's kernels use",
    "DNNL_MAX_CPU_ISA": "limits the instruction set oneDNN's kernels use",
    "ATEN_CPU_CAPABILITY": "forces torch's CPU kernels for another instruction set",
    "KMP_DETERMINISTIC_REDUCTION": "changes how OpenMP reductions are summed",
    "JAX_DISABLE_JIT": "runs JAX op by op, without XLA's fusions (different rounding, and very slow)",
    "JAX_DEFAULT_MATMUL_PRECISION": "sets JAX's matmul precision (paritybench sets highest unless --no-deterministic)",
    "JAX_NUMPY_DTYPE_PROMOTION": "changes JAX's dtype promotion rules",
    "JAX_SOFTMAX_CUSTOM_JVP": "changes JAX's softmax gradient",
    "TF_XLA_FLAGS": "turns on TensorFlow's XLA auto-clustering or other compiler options",
    "TF_DETERMINISTIC_OPS": "sets TensorFlow's op determinism (paritybench sets it unless --no-deterministic)",
    "TF_CUDNN_DETERMINISTIC": "sets cuDNN determinism in TensorFlow (paritybench sets it unless --no-deterministic)",
    "NVIDIA_TF32_OVERRIDE": "sets TF32 in cuBLAS/cuDNN (paritybench sets 0 unless --no-deterministic)",
    "CUBLAS_WORKSPACE_CONFIG": "changes cuBLAS's workspace, which torch's deterministic mode depends on",
    "XLA_PYTHON_CLIENT_PREALLOCATE": "changes JAX's GPU memory preallocation (paritybench sets false in every "
    "mode: a run's processes share one GPU)",
}

# The most recent check's warnings, recorded by environment.fingerprint() in the same process.
_LAST_WARNINGS: list[str] = []


def _recorded(name: str) -> bool:
    if not name.startswith(RECORD_PREFIXES) or name.startswith(NOT_NUMERICS_PREFIXES):
        return False
    return not any(word in name for word in SECRET_WORDS)


def snapshot(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Every numerics-relevant variable present (by prefix, less terraform's and anything secret-looking)."""
    env = os.environ if environ is None else environ
    return {k: env[k] for k in sorted(env) if _recorded(k)}


def _xla_tokens(flags: str) -> list[tuple[str, str]]:
    out = []
    for token in flags.split():
        key, sep, val = token.removeprefix("--").partition("=")
        out.append((key, val if sep else "true"))
    return out


def keras_config_path(environ: Mapping[str, str]) -> Path:
    """Where Keras reads keras.json (keras/src/backend/config.py): KERAS_HOME, else ~/.keras or /tmp/.keras."""
    if "KERAS_HOME" in environ:
        return Path(os.path.expanduser(environ["KERAS_HOME"])) / "keras.json"
    base = os.path.expanduser("~")
    if not os.access(base, os.W_OK):
        base = "/tmp"
    return Path(base) / ".keras" / "keras.json"


def _keras_json_problem(environ: Mapping[str, str]) -> str | None:
    """A keras.json that changes the Keras arms' dtype or clip, described; None when there is none."""
    path = keras_config_path(environ)
    try:
        config = json.loads(path.read_text())
    except (OSError, ValueError, RecursionError):  # absent or unreadable: Keras falls back to its defaults too
        return None
    if not isinstance(config, dict):
        return None
    floatx, epsilon = config.get("floatx", "float32"), config.get("epsilon", 1e-7)
    if floatx != "float32":
        return (
            f"{path} sets floatx {floatx!r}: Keras would build the Keras arms in {floatx}, not float32; "
            "remove the key or point KERAS_HOME at a folder without it"
        )
    if epsilon != 1e-7:
        return (
            f"{path} sets epsilon {epsilon!r}: Keras's probability clip would differ from the 1e-7 the "
            "Keras arms are defined with; remove the key or point KERAS_HOME at a folder without it"
        )
    return None


def check(opts, environ: Mapping[str, str] | None = None) -> list[str]:
    """Refuse (ParityError) what would silently change the experiment; return warnings for the rest.

    ``opts`` is the run's ``flags.NumericsOptions``: variables that ``flags.env_for``
    sets for it are paritybench's own and replace the user's value.
    """
    env = dict(os.environ if environ is None else environ)
    ours = flags.env_for(opts, base={})
    for name, (refused, why) in REFUSED.items():
        if name in env and name not in ours and refused(env[name]):
            raise ParityError(
                f"environment variable {name}={env[name]} is set: {why}; unset it (e.g. "
                f"`env -u {name} paritybench ...`)"
            )
    user_xla = [(k, v) for k, v in _xla_tokens(env.get("XLA_FLAGS", "")) if k not in OWN_XLA]
    for key, value in user_xla:
        if key in REFUSED_XLA and _truthy(value):
            raise ParityError(f"XLA_FLAGS has --{key}={value}: {REFUSED_XLA[key]}; remove it from XLA_FLAGS")
    problem = _keras_json_problem(env)
    if problem:
        raise ParityError(problem)
    warnings = []
    if user_xla:
        shown = " ".join(f"--{k}={v}" for k, v in user_xla)
        warnings.append(f"XLA_FLAGS={shown} is set in the environment: XLA compiler options can change rounding")
    for name, what in WARNED.items():
        if name in env and name not in ours:
            warnings.append(f"{name}={env[name]} is set in the environment: it {what}")
    _LAST_WARNINGS[:] = warnings
    return warnings


def check_and_warn(opts) -> list[str]:
    """``check``, then each warning on stderr before anything runs (also recorded in the artifact)."""
    warnings = check(opts)
    for w in warnings:
        print(f"paritybench: numerics warning: {w}", file=sys.stderr)
    return warnings


def last_warnings() -> list[str]:
    """The warnings of this process's most recent ``check`` (for environment.fingerprint)."""
    return list(_LAST_WARNINGS)


def numerics_env_snapshot() -> dict[str, str]:
    """The numerics environment variables in force now: flags.NUMERICS_ENV_VARS and every other one
    with a numerics prefix (``snapshot``), sorted by name."""
    out = {k: os.environ[k] for k in flags.NUMERICS_ENV_VARS if k in os.environ}
    out.update(snapshot())
    return dict(sorted(out.items()))
