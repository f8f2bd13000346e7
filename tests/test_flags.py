"""Determinism flags: set before import, read back after, and a flag that did not take is a warning."""

from __future__ import annotations

import json
import subprocess
import sys

from paritybench.experiment import flags
from paritybench.experiment.flags import NumericsOptions

from .conftest import ROOT, run_cli


def test_env_for_sets_the_deterministic_flags_of_every_framework():
    env = flags.env_for(NumericsOptions(onednn=False, threads=1), base={})
    assert flags.xla_flag(env["XLA_FLAGS"], "xla_gpu_deterministic_ops") == "true"
    assert flags.xla_flag(env["XLA_FLAGS"], "xla_cpu_multi_thread_eigen") == "false"
    assert env["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" and env["JAX_DEFAULT_MATMUL_PRECISION"] == "highest"
    assert env["TF_DETERMINISTIC_OPS"] == "1" and env["NVIDIA_TF32_OVERRIDE"] == "0"
    assert env["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"
    assert env["TF_ENABLE_ONEDNN_OPTS"] == "0" and env["TF_NUM_INTRAOP_THREADS"] == "1"
    loose = flags.env_for(NumericsOptions(deterministic=False), base={})
    assert "XLA_FLAGS" not in loose and "NVIDIA_TF32_OVERRIDE" not in loose
    # GPU memory is shared between a run's processes in every mode (an H200 run without the deterministic
    # flags ran keras-torch out of memory beside two preallocating JAX processes)
    assert loose["XLA_PYTHON_CLIENT_PREALLOCATE"] == "false" and loose["TF_FORCE_GPU_ALLOW_GROWTH"] == "true"


def test_xla_flag_reads_the_last_setting():
    assert (
        flags.xla_flag(
            "--a=1 --xla_gpu_deterministic_ops=false --xla_gpu_deterministic_ops=true", "xla_gpu_deterministic_ops"
        )
        == "true"
    )
    assert flags.xla_flag("--xla_gpu_deterministic_ops", "xla_gpu_deterministic_ops") == "true"
    assert flags.xla_flag("--other=1", "xla_gpu_deterministic_ops") is None


def test_collect_warnings_gathers_every_process_and_nested_numerics():
    env = {
        "frameworks": {
            "main": {"warnings": ["a"]},
            "keras-tensorflow": {"numerics": {"warnings": ["b"]}},
            "keras-jax": {"numerics": {"warnings": []}},
        }
    }
    got = flags.collect_warnings(env, {"_warning": "late"})
    assert got == ["flags: late", "main: a", "keras-tensorflow: b"]


def test_seed_run_records_every_flag_as_it_took_effect(seed_run):
    env = seed_run["artifact"]["environment"]
    assert env["warnings"] == []
    fw = env["frameworks"]
    assert fw["main"]["jax_default_matmul_precision"] == "highest"
    assert fw["main"]["xla_gpu_deterministic_ops"] == "true" and fw["main"]["preallocate"] == "false"
    tf = fw["keras-tensorflow"]["numerics"]
    assert tf["op_determinism"] is True and tf["tensor_float_32"] is False
    assert tf["keras_random_seed"] == 0 and isinstance(tf["onednn_enabled"], bool)
    assert fw["keras-jax"]["numerics"]["keras_random_seed"] == 0
    assert env["numerics_env"]["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_a_flag_that_did_not_take_effect_is_a_recorded_warning(tmp_path):
    # The user's own XLA_FLAGS turn deterministic ops off: the run goes ahead, and says so.
    out = tmp_path / "a.json"
    proc = run_cli(
        "run",
        "--arms",
        "jax-logits",
        "--steps",
        "1",
        "--no-weights",
        "--out",
        str(out),
        env={"XLA_FLAGS": "--xla_gpu_deterministic_ops=false"},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    warnings = json.loads(out.read_text())["environment"]["warnings"]
    assert any(w.startswith("main: ") and "xla_gpu_deterministic_ops=false" in w for w in warnings), warnings
    assert "numerics warning: main: XLA_FLAGS has --xla_gpu_deterministic_ops=false" in proc.stdout


def test_flags_applied_after_a_framework_import_are_a_warning():
    code = (
        "import json, numpy, jax\nfrom paritybench.experiment import flags\n"
        "print(json.dumps(flags.apply(flags.NumericsOptions())))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    applied = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "jax" in applied["_warning"]
    assert flags.collect_warnings({}, applied) == [f"flags: {applied['_warning']}"]


def test_flags_set_again_with_the_values_frameworks_loaded_with_are_no_warning():
    """``run --workload all`` sets each workload's flags after the first workload imported jax and torch: the
    same values are no warning (the 8 catalogue baselines that recorded one were wrong), a changed one is."""
    code = (
        "import json\nfrom paritybench.experiment import flags\n"
        "first = flags.apply(flags.NumericsOptions())\nimport jax\n"
        "same = flags.apply(flags.NumericsOptions())\n"
        "changed = flags.apply(flags.NumericsOptions(threads=1))\n"
        "print(json.dumps([first.get('_warning'), same.get('_warning'), changed.get('_warning')]))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    first, same, changed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert first is None and same is None
    assert "flags changed after frameworks were imported" in changed and "OMP_NUM_THREADS" in changed


KERAS_LOADED_THEN_TORCH = """
import os, sys
os.environ["KERAS_BACKEND"] = "jax"
import keras  # the user's notebook, or an earlier test, imported Keras on the JAX backend
from paritybench import workloads
from paritybench.experiment.flags import NumericsOptions
from paritybench.pipeline import conventions
w = workloads.load("adam-epsilon")  # JAX, float64 and native torch arms in this process
conventions.report(w, tuple(a for a in w.arms if a.kind != "keras"), w.training.lr, NumericsOptions())
print("tensorflow" in sys.modules, "triton" in sys.modules or "torch" in sys.modules)
"""


def test_a_main_process_with_keras_loaded_does_not_load_tensorflow_behind_its_back():
    # keras.utils.set_random_seed imports TensorFlow whenever it is installed, whatever the backend; with
    # TensorFlow's LLVM loaded, torch's Triton then aborted the process ("Option 'bitcode-mdindex-threshold'
    # registered more than once"): the pytest worker that crashed in CI. Only Keras workers seed Keras.
    proc = subprocess.run([sys.executable, "-c", KERAS_LOADED_THEN_TORCH], capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split()[-2:] == ["False", "True"], proc.stdout


SEEDED_WITHOUT_TENSORFLOW = """
import json, os, random, sys
os.environ["KERAS_BACKEND"] = "jax"
import keras
import numpy as np
from paritybench.experiment import flags
from paritybench.workloads.kit import keras as kit

def draws():
    return [random.random(), float(np.random.rand()), float(keras.random.uniform((), seed=None))]

with flags.keras_without_tensorflow():
    keras.utils.set_random_seed(0)
    hidden = draws()
    config = kit.mlp(keras, (4, 3, 1), "relu", "sigmoid")[0].layers[0].get_config()
out = {"tf_after_block": "tensorflow" in sys.modules, "units": config["units"]}
keras.utils.set_random_seed(0)  # Keras's own call, outside the block: loads TensorFlow as before
out.update(same_draws=draws() == hidden, tf_after_plain_call="tensorflow" in sys.modules)
print(json.dumps(out))
"""


def test_a_jax_backend_keras_seeds_and_reads_configs_without_loading_tensorflow():
    # keras.utils.set_random_seed and a layer's get_config() import TensorFlow whenever it is installed (Keras's
    # LazyModule); a JAX or torch backend's worker runs them inside keras_without_tensorflow, which seeds what
    # Keras's call seeds on that backend (the same Python, NumPy and keras.random draws after it) and leaves
    # TensorFlow unloaded, and only for the block: Keras's own call after it loads TensorFlow again.
    proc = subprocess.run(
        [sys.executable, "-c", SEEDED_WITHOUT_TENSORFLOW], capture_output=True, text=True, cwd=ROOT, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert got == {"tf_after_block": False, "units": 3, "same_draws": True, "tf_after_plain_call": True}, got
