"""torch: numerics read-back, the Keras per-sample probe, device sync (siblings: jax.py, tensorflow.py)."""

from __future__ import annotations

import os

from paritybench.experiment.flags import NumericsOptions


def read_back(opts: NumericsOptions) -> dict:
    """Configure and read back torch's determinism, cuDNN, TF32 and threads; warnings for what did not take."""
    import torch  # late: a framework: loads after the numerics flags

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
    if opts.deterministic:
        expected = {
            "deterministic_algorithms": True,
            "cudnn_deterministic": True,
            "cudnn_benchmark": False,
            "float32_matmul_precision": "highest",
            "cuda_matmul_allow_tf32": False,
            "cudnn_allow_tf32": False,
        }
        for key, want in expected.items():
            if out[key] != want:
                out["warnings"].append(f"torch {key} is {out[key]}, not {want}")
        if torch.cuda.is_available() and not out["cublas_workspace_config"]:
            # Without it, cuBLAS matmuls raise under deterministic algorithms (or are nondeterministic).
            out["warnings"].append("CUBLAS_WORKSPACE_CONFIG is not set on a CUDA machine")
    if opts.threads is not None and out["num_threads"] != opts.threads:
        out["warnings"].append(f"torch uses {out['num_threads']} threads, not {opts.threads}")
    return out


def probe(keras, logits, loss):
    """``probe(x, y) -> (z, dz)`` by torch's autograd."""
    import torch  # late: a framework: loads after the numerics flags

    def run(x, y):
        with torch.no_grad():
            z = logits(keras.ops.convert_to_tensor(x))
        z = z.detach().requires_grad_(True)
        per_sample = loss(keras.ops.convert_to_tensor(y), z)
        per_sample.sum().backward()
        return z.detach(), z.grad

    return run


def sync(x):
    """Wait for queued CUDA work (a no-op on the CPU)."""
    import torch  # late: a framework: loads after the numerics flags

    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return x
