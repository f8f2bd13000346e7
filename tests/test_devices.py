"""``paritybench devices``: the GPU summary that make bench-gpu relies on."""

from __future__ import annotations

from paritybench.frameworks.devices import gpu_summary


def test_cpu_only_devices_say_no_gpu_and_what_to_do():
    s = gpu_summary(["TFRT_CPU_0"], ["/device:CPU:0"], True)
    assert s["gpu_visible"] is False
    assert s["message"].startswith("no GPU visible to JAX or TensorFlow")
    assert "NVIDIA Container Toolkit" in s["message"] and "--gpus all" in s["message"]


def test_a_gpu_seen_by_only_one_framework_is_not_enough():
    s = gpu_summary(["cuda:0"], ["/device:CPU:0"], True)
    assert s["gpu_visible"] is False
    assert s["jax_gpus"] == ["cuda:0"]
    assert s["message"].startswith("no GPU visible to TensorFlow")


def test_gpus_seen_by_both_frameworks():
    s = gpu_summary(["CudaDevice(id=0)", "TFRT_CPU_0"], ["/device:CPU:0", "/device:GPU:0"], True)
    assert s["gpu_visible"] is True
    assert s["jax_gpus"] == ["CudaDevice(id=0)"] and s["tensorflow_gpus"] == ["/device:GPU:0"]
