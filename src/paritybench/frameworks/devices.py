"""``paritybench devices``: which accelerators JAX and TensorFlow see, and the CUDA
packages installed; ``--require-gpu`` stops with a clear message when either sees none.

``make bench-gpu`` runs this inside the CUDA image before the benchmark, so a host
without a working GPU runtime fails at once instead of quietly timing the CPU.
"""

from __future__ import annotations

import re
from importlib import metadata

from paritybench.experiment import flags

NO_GPU_HELP = (
    "on the host, install the NVIDIA driver and the NVIDIA Container Toolkit, run the image with"
    " --gpus all (make bench-gpu does), and check with nvidia-smi and"
    " `docker run --rm --gpus all IMAGE devices`"
)
# The wheels that make up the cuda12 extra: JAX's plugin and the nvidia-* CUDA libraries.
CUDA_PACKAGE = re.compile(r"^(jax-cuda\d+-(plugin|pjrt)|nvidia-.*-cu\d+)$")


def cuda_packages() -> dict[str, str]:
    """Installed CUDA wheels (name -> version); empty in the CPU image."""
    found = {}
    for dist in metadata.distributions():
        name = (dist.metadata["Name"] or "").lower().replace("_", "-")
        if CUDA_PACKAGE.match(name):
            found[name] = dist.version
    return dict(sorted(found.items()))


def gpu_summary(jax_devices: list[str], tf_devices: list[str], tf_cuda_build: bool | None) -> dict:
    """What each framework sees, and one sentence a reader can act on."""
    jax_gpus = [d for d in jax_devices if re.search(r"cuda|gpu|rocm", d, re.IGNORECASE)]
    tf_gpus = [d for d in tf_devices if ":GPU:" in d.upper()]
    summary = {
        "cuda_packages": cuda_packages(),
        "tensorflow_cuda_build": tf_cuda_build,
        "jax_gpus": jax_gpus,
        "tensorflow_gpus": tf_gpus,
        "gpu_visible": bool(jax_gpus and tf_gpus),
    }
    if summary["gpu_visible"]:
        summary["message"] = f"GPU visible: JAX {jax_gpus}, TensorFlow {tf_gpus}"
    else:
        blind = [n for n, g in (("JAX", jax_gpus), ("TensorFlow", tf_gpus)) if not g]
        installed = "CUDA packages are installed" if summary["cuda_packages"] else "no CUDA packages are installed"
        summary["message"] = f"no GPU visible to {' or '.join(blind)} ({installed}): {NO_GPU_HELP}"
    return summary


def probe() -> dict:
    """Import JAX and TensorFlow (after the numerics flags) and summarise their devices."""
    flags.apply(flags.NumericsOptions())
    import jax  # late: a framework: loads after the numerics flags
    import tensorflow as tf  # late: a framework: loads after the numerics flags

    try:
        jax_devices = [str(d) for d in jax.devices()]
    except RuntimeError as exc:  # a broken CUDA plugin raises here rather than falling back
        jax_devices = [f"error: {exc}"]
    tf_devices = [d.name for d in tf.config.list_logical_devices()]
    build = tf.sysconfig.get_build_info()
    return gpu_summary(jax_devices, tf_devices, build.get("is_cuda_build"))
