"""JAX: numerics read-back, the Keras per-sample probe, device sync.

The sibling modules ``tensorflow.py`` and ``torch.py`` define the same functions
(in the manner of ``keras/src/backend/{jax,tensorflow,torch}/``); the caller picks
the module once by name and never branches on the framework."""

from __future__ import annotations

import os

from paritybench.experiment.flags import NumericsOptions, xla_flag


def read_back(opts: NumericsOptions) -> dict:
    """Configure and read back JAX's numerics settings; warnings for what did not take."""
    import jax  # late: a framework: loads after the numerics flags

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
    out["compilation_cache_dir"] = jax.config.jax_compilation_cache_dir
    out["devices"] = [str(d) for d in jax.devices()]
    out["backend"] = jax.default_backend()
    if opts.deterministic:
        # "float32" and "highest" are the same setting under two names (full fp32 passes).
        if out["jax_default_matmul_precision"] not in ("highest", "float32", "Precision.HIGHEST"):
            out["warnings"].append(
                f"jax_default_matmul_precision is {out['jax_default_matmul_precision']}, not highest"
            )
        if (out["xla_gpu_deterministic_ops"] or "").lower() not in ("true", "1"):
            out["warnings"].append(
                f"XLA_FLAGS has --xla_gpu_deterministic_ops={out['xla_gpu_deterministic_ops']}"
                " although deterministic mode is on"
            )
    if out["preallocate"] != "false":  # set by flags.env_for in every mode: several processes share one GPU
        out["warnings"].append(f"XLA_PYTHON_CLIENT_PREALLOCATE is {out['preallocate']}, not false")
    if opts.threads is not None and opts.threads != 1 and opts.threads < (os.cpu_count() or 1):
        # XLA:CPU sizes its pool from the cores it sees; only 1 (single-threaded Eigen) can be forced.
        out["warnings"].append(
            f"--threads {opts.threads}: XLA:CPU cannot be capped at {opts.threads} threads "
            f"(it uses all {os.cpu_count()} cores; only --threads 1 is honoured)"
        )
    return out


def probe(keras, logits, loss):
    """``probe(x, y) -> (p, z, dz)``: the head's output, the logits and d(per-sample loss)/d(logits)
    of ``loss(y, z)`` by JAX's autodiff."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags

    def run(x, y):
        z = logits(x)
        dz = jax.grad(lambda zz: jnp.sum(loss(y, zz)))(z)
        return z, dz

    return run


def sync(x):
    """Wait until ``x`` is computed (JAX dispatches asynchronously)."""
    import jax  # late: a framework: loads after the numerics flags

    return jax.block_until_ready(x)
