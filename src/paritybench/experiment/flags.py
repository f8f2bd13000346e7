"""Numerics flags: set in the environment *before* any framework is imported,
then read back after import and recorded as they actually took effect.

This module imports no framework at module level. ``apply`` changes
``os.environ`` of the current process (and so of every subprocess it starts);
the ``read_back_*`` functions are called once the framework is loaded.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from collections.abc import Iterator
from dataclasses import asdict, dataclass

from paritybench.artifact.inputs import check_input_file
from paritybench.errors import ParityError

# Variables that change what a framework computes or how; recorded in every artifact.
NUMERICS_ENV_VARS = (
    "XLA_FLAGS",
    "XLA_PYTHON_CLIENT_PREALLOCATE",
    "JAX_ENABLE_X64",
    "JAX_DEFAULT_MATMUL_PRECISION",
    "JAX_PLATFORMS",
    "TF_ENABLE_ONEDNN_OPTS",
    "TF_DETERMINISTIC_OPS",
    "TF_CUDNN_DETERMINISTIC",
    "NVIDIA_TF32_OVERRIDE",
    "TF_NUM_INTRAOP_THREADS",
    "TF_NUM_INTEROP_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "CUBLAS_WORKSPACE_CONFIG",
    "CUDA_VISIBLE_DEVICES",
    "KERAS_BACKEND",
    "PYTHONHASHSEED",
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


# XLA's blanks between flags (xla/parse_flags_from_env.cc: kWS).
_XLA_BLANKS = " \t\r\n"
MAX_XLA_FLAGS_FILE = 1 << 20


def xla_flags_text(value: str) -> str:
    """``XLA_FLAGS`` as XLA reads it, so paritybench can add its own flags to it.

    XLA (``SetArgvFromEnv`` in xla/parse_flags_from_env.cc) takes a value whose first non-blank
    character is ``-`` as the flags themselves and any other non-empty value as the name of a file
    holding them: appending `` --xla_...`` to a file name made XLA die ("Could not open file
    "F --xla_gpu_deterministic_ops=true""), so a file is read here and its flags used instead.
    ``--flagfile=F`` is refused: XLA has no such flag and dies with "Unknown flag in XLA_FLAGS".
    """
    if not value.strip(_XLA_BLANKS):
        return value
    if value.lstrip(_XLA_BLANKS)[0] != "-":
        hint = "XLA reads a value that does not start with '-' as a file of flags; give a readable file or the flags"
        path = check_input_file(value, "XLA_FLAGS file", hint)
        try:
            with open(path, "rb") as fh:
                data = fh.read(MAX_XLA_FLAGS_FILE + 1)
        except OSError as exc:
            raise ParityError(f"XLA_FLAGS file {path} cannot be read ({exc.strerror or exc}): {hint}") from None
        if len(data) > MAX_XLA_FLAGS_FILE:
            raise ParityError(f"XLA_FLAGS file {path} is larger than 1 MiB: it is not a file of XLA flags; {hint}")
        value = data.decode("utf-8", errors="replace")
        if value.strip(_XLA_BLANKS) and value.lstrip(_XLA_BLANKS)[0] != "-":
            raise ParityError(f"XLA_FLAGS file {path} does not start with a flag (--xla_...): {hint}")
        value = " ".join(value.split())
    for token in value.split():
        if token.removeprefix("--").partition("=")[0] == "flagfile":
            raise ParityError(
                f"XLA_FLAGS has {token}: XLA has no --flagfile (it dies with 'Unknown flag in XLA_FLAGS'); "
                "put the flags themselves in XLA_FLAGS, or set XLA_FLAGS to the file's path (XLA reads "
                "a value that does not start with '-' as a file of flags)"
            )
    return value


def env_for(opts: NumericsOptions, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment variables ``opts`` needs, merged over ``base`` (default os.environ)."""
    env = dict(os.environ if base is None else base)
    if "XLA_FLAGS" in env:  # a file of flags read (XLA's own rule), so that flags can be added to it
        env["XLA_FLAGS"] = xla_flags_text(env["XLA_FLAGS"])
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Not numerics: a run puts up to three processes on one GPU (main, keras-jax, keras-torch or
    # keras-tensorflow). JAX preallocates 75% of the GPU's memory per process and TensorFlow takes it all,
    # so without these the second process runs out of memory (measured on an H200 with --no-deterministic,
    # where this used to be set only in deterministic mode: keras-torch died with CUDA out of memory).
    env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    env["TF_FORCE_GPU_ALLOW_GROWTH"] = "true"
    if opts.deterministic:
        flags = env.get("XLA_FLAGS", "")
        if "xla_gpu_deterministic_ops" not in flags:
            env["XLA_FLAGS"] = (flags + " --xla_gpu_deterministic_ops=true").strip()
        env["JAX_DEFAULT_MATMUL_PRECISION"] = "highest"
        env["TF_DETERMINISTIC_OPS"] = "1"
        env["TF_CUDNN_DETERMINISTIC"] = "1"
        env["NVIDIA_TF32_OVERRIDE"] = "0"  # TF32 off in cuBLAS/cuDNN for TF and others
        env["CUBLAS_WORKSPACE_CONFIG"] = ":4096:8"  # required by torch deterministic cuBLAS
        env["PYTHONHASHSEED"] = "0"
    compile_cache(env)
    if opts.onednn is not None:
        env["TF_ENABLE_ONEDNN_OPTS"] = "1" if opts.onednn else "0"
    if opts.threads is not None:
        t = str(int(opts.threads))
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS"):
            env[var] = t
        env["TF_NUM_INTEROP_THREADS"] = "1"
        if int(opts.threads) == 1:
            # XLA:CPU has no thread-count flag; single-threaded Eigen is the one cap it offers
            # (frameworks.jax.read_back records a warning for any other count it cannot honour).
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


# What the last ``apply`` before any framework import set (NUMERICS_ENV_VARS -> value or None): the flags
# the frameworks loaded with. None until ``apply`` runs with no framework loaded.
_BEFORE_FRAMEWORKS: dict[str, str | None] | None = None


def loaded_frameworks() -> list[str]:
    return [m for m in ("jax", "tensorflow", "torch", "keras") if m in sys.modules]


def apply(opts: NumericsOptions) -> dict[str, str]:
    """Set ``opts`` in this process's environment; call before importing any framework.

    Called again once frameworks are loaded (``run --workload all`` sets each workload's flags, a
    command sets them before loading the workload and again before training), it changes nothing
    when the values are those the frameworks loaded with: no warning then. A warning (``_warning``,
    recorded in the artifact by ``collect_warnings``) says when a framework was imported before any
    flags were set, or when a flag now differs from the value in force when the frameworks loaded."""
    global _BEFORE_FRAMEWORKS
    loaded = loaded_frameworks()
    env = env_for(opts)
    values = {k: env.get(k) for k in NUMERICS_ENV_VARS}
    os.environ.update(env)
    applied = {k: env[k] for k in NUMERICS_ENV_VARS if k in env}
    if not loaded:
        _BEFORE_FRAMEWORKS = values
    elif _BEFORE_FRAMEWORKS is None:
        applied["_warning"] = f"frameworks already imported before flags were set: {loaded}"
    else:
        changed = sorted(k for k in NUMERICS_ENV_VARS if values[k] != _BEFORE_FRAMEWORKS[k])
        if changed:
            applied["_warning"] = (
                f"flags changed after frameworks were imported ({loaded}): {', '.join(changed)} "
                "differ from the values they loaded with"
            )
    return applied


# Read by the interpreter when it starts (never by a framework): it takes effect in the processes a run starts.
_AT_INTERPRETER_START = ("PYTHONHASHSEED",)


def not_in_effect(opts: NumericsOptions) -> list[str]:
    """The numerics variables ``apply(opts)`` would set to other values than those the frameworks already
    imported in this process loaded with: in this process they cannot take effect. [] when no framework is
    loaded (``apply`` then sets everything in time). The values at import are those ``apply`` recorded when it
    ran before the import, else the environment now (nothing of paritybench's has changed it since).
    ``PYTHONHASHSEED`` is left out: the interpreter reads it at start, so it only ever reaches new processes."""
    if not loaded_frameworks():
        return []
    env = env_for(opts)
    before = _BEFORE_FRAMEWORKS if _BEFORE_FRAMEWORKS is not None else {k: os.environ.get(k) for k in NUMERICS_ENV_VARS}
    return [k for k in NUMERICS_ENV_VARS if k not in _AT_INTERPRETER_START and env.get(k) != before[k]]


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


@contextlib.contextmanager
def keras_without_tensorflow() -> Iterator[None]:
    """Keras's calls in the block do not load TensorFlow in a Keras process of the JAX or torch backend.

    Two of Keras's calls a worker makes import TensorFlow whenever it is installed, whatever the backend, through
    keras/src/utils/module_utils.py's ``LazyModule``, whose ``available`` imports TensorFlow to answer:
    ``keras.utils.set_random_seed`` (keras/src/utils/rng_utils.py: ``if tf.available: tf.random.set_seed``) and
    every layer's ``get_config()`` (its dtype policy through keras/src/saving/serialization_lib.py:
    ``tf.available and isinstance(obj, tf.TensorShape)``). A JAX or torch backend's worker runs no TensorFlow op,
    yet paid that import: 2.4 s of CPU time of its 4-7 s (``import keras; keras.utils.set_random_seed(0)`` 4.6 s
    against ``import keras`` 2.2 s on the JAX backend, this 2-core machine, 3 runs each). In the block, while
    TensorFlow is not loaded, the lazy module answers "not installed" (so ``set_random_seed`` seeds Python, NumPy,
    Keras's generator and torch as before, TensorFlow's generator not: nothing on these backends draws from it),
    and it is reset after, so a model that needs TensorFlow outside the block loads it as before. A Keras without
    that lazy module runs the block unchanged.
    """
    keras = sys.modules.get("keras")
    lazy = getattr(sys.modules.get("keras.src.utils.module_utils"), "tensorflow", None)
    hide = (
        keras is not None
        and keras.backend.backend() != "tensorflow"
        and "tensorflow" not in sys.modules
        and getattr(lazy, "module", True) is None
        and getattr(lazy, "_available", True) is None
    )
    if lazy is None or not hide:
        yield
        return
    lazy._available = False
    try:
        yield
    finally:
        lazy._available = None


def seed_keras(out: dict) -> None:
    """``keras.utils.set_random_seed`` in a Keras worker (Keras loaded), recorded as set (keras_without_tensorflow)."""
    if "keras" not in sys.modules:
        return
    try:
        with keras_without_tensorflow():
            sys.modules["keras"].utils.set_random_seed(KERAS_SEED)
        out["keras_random_seed"] = KERAS_SEED
    except Exception as exc:  # recorded, never silent
        out["keras_random_seed"] = None
        out["warnings"].append(f"keras.utils.set_random_seed failed: {exc}")


FRAMEWORKS = ("jax", "tensorflow", "torch")


def read_back(framework: str, opts: NumericsOptions, *, keras: bool = False) -> dict:
    """Configure ``framework`` (imports it) and read its numerics settings back
    (``paritybench.frameworks.<framework>.read_back``); ``keras``: this is a Keras process (a worker), whose
    Keras random seed is set and recorded too. Only there: ``keras.utils.set_random_seed`` imports TensorFlow
    whenever it is installed, whatever the backend (keras/src/utils/rng_utils.py: ``if tf.available:
    tf.random.set_seed``), and a process that has TensorFlow's LLVM and then loads torch's Triton aborts
    (``LLVM ERROR: inconsistency in registered CommandLine options``, measured): a main process, or a user's
    notebook that imported Keras on the JAX backend, must not have TensorFlow loaded behind its back."""
    out = importlib.import_module(f"paritybench.frameworks.{framework}").read_back(opts)
    if keras:
        seed_keras(out)
    return out


def compile_cache(env: dict[str, str]) -> None:
    """JAX's persistent compilation cache, for every process paritybench starts (the Keras-JAX
    worker's programs too): a second run loads compiled programs instead of compiling them again.
    A cached executable is the one the same program and options compile to, so numerics do not
    change. Off with PARITYBENCH_COMPILE_CACHE=off; a user's JAX_COMPILATION_CACHE_DIR is kept;
    skipped when the cache folder cannot be made writable (a read-only HOME, say)."""
    if env.get("PARITYBENCH_COMPILE_CACHE", "").lower() in ("off", "0", "false") or "JAX_COMPILATION_CACHE_DIR" in env:
        return
    base = env.get("XDG_CACHE_HOME") or os.path.join(env.get("HOME") or os.path.expanduser("~"), ".cache")
    path = os.path.join(base, "paritybench", "jax-compile-cache")
    try:
        os.makedirs(path, exist_ok=True)
        if not os.access(path, os.W_OK):
            return
    except OSError:
        return
    env["JAX_COMPILATION_CACHE_DIR"] = path
    # every program: the seed's take ~1 s each to compile, under JAX's default threshold of 1 s
    env.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
