"""The environment fingerprint recorded in every artifact: what produced it."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata

from paritybench.experiment import numerics_env

PACKAGES = (
    "jax",
    "jaxlib",
    "keras",
    "tensorflow",
    "torch",
    "numpy",
    "optax",
    "ml-dtypes",
    "jax-cuda12-plugin",
    "paritybench",
)
# CPU features that change float rounding or the kernels a BLAS picks.
NUMERIC_CPU_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "avx512_fp16",
    "amx_tile",
    "amx_bf16",
    "amx_int8",
)


def package_versions() -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def cpu_info() -> dict:
    model, flags_found = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                key = key.strip()
                if key == "model name":
                    model = value.strip()
                elif key == "flags":
                    flags_found = set(value.split())
                if model and flags_found:
                    break
    except OSError:
        pass
    return {
        "model": model,
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "numeric_flags": {f: (f in flags_found) for f in NUMERIC_CPU_FLAGS} if flags_found else {},
    }


def container_info() -> dict:
    """Set by the images (docker/Dockerfile): variant, lock hash, base digest."""
    keys = (
        "PARITYBENCH_IMAGE_VARIANT",
        "PARITYBENCH_LOCK_SHA256",
        "PARITYBENCH_BASE_IMAGE",
        "PARITYBENCH_SOURCE_REVISION",
    )
    info: dict[str, str | bool] = {
        k.removeprefix("PARITYBENCH_").lower(): os.environ[k] for k in keys if k in os.environ
    }
    info["in_container"] = os.path.exists("/.dockerenv") or bool(info)
    return info


def fingerprint() -> dict:
    """Everything but the per-framework read-backs, which the runner adds."""
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "hostname": platform.node(),
        "cpu": cpu_info(),
        "packages": package_versions(),
        "numerics_env": numerics_env.numerics_env_snapshot(),
        # user-set variables that change numerics, found before training (paritybench.experiment.numerics_env)
        "numerics_env_warnings": numerics_env.last_warnings(),
        "container": container_info(),
    }
