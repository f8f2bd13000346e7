"""What an arm needs to run here: its modules installed, and a GPU where it measures GPU behaviour.
An arm that lacks one is skipped with the install hint, never failed."""

from __future__ import annotations

import importlib.util

from paritybench.workloads.base import Arm


def missing_requirements(spec: Arm) -> list[str]:
    missing = [m for m in spec.requires if m != "gpu" and importlib.util.find_spec(m) is None]
    if spec.needs_gpu and not missing and not gpu_visible():
        missing.append("gpu")
    return missing


def gpu_visible() -> bool:
    """Whether JAX sees a GPU (the arms that need one run in the harness's JAX process)."""
    import jax  # late: a framework: loads after the numerics flags

    return any(d.platform == "gpu" for d in jax.devices())


def install_hint(missing: list[str]) -> str:
    if missing == ["gpu"]:
        return "this arm measures GPU behaviour (TF32, atomics); run it on a machine with an NVIDIA GPU"
    if "torch" in missing:
        return 'install the torch extra: make setup EXTRAS="--extra cpu --extra torch"'
    return "install the project's environment: make setup"
