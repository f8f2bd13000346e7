#!/usr/bin/env bash
# usage: scripts/gpu_artifact.sh [OUT.json]   (default results/baselines/seed-gpu.json)
# The GPU artifact for issue 5, on a machine with an NVIDIA GPU and an environment with the
# cuda12 extra (make setup EXTRAS="--extra cuda12", plus "--extra torch" for keras-torch).
# It runs the seed preset's JAX arms, the float64 reference and the Keras JAX (and torch,
# when installed) backends twice in fresh processes (--repeat 2: is the GPU deterministic
# under these flags?), refuses to run if JAX sees no GPU, then compares with the committed
# CPU baseline. TensorFlow is not needed: keras-tensorflow is left out.
set -euo pipefail
cd "$(dirname "$0")/.."
pb=${PARITYBENCH:-.venv/bin/paritybench}
py=${PYTHON:-.venv/bin/python}
out=${1:-results/baselines/seed-gpu.json}
"$py" -c 'import jax, sys; d = jax.devices(); print("jax devices:", d); sys.exit(0 if d[0].platform == "gpu" else 3)' \
  || { echo "gpu_artifact: JAX sees no GPU: install the cuda12 extra and check nvidia-smi" >&2; exit 3; }
arms=jax-naive,jax-seed-stable,jax-keras-clip,jax-keras-torch-clip,jax-logits,keras-jax,reference-f64
if "$py" -c 'import torch' 2>/dev/null; then arms=$arms,keras-torch; fi
# Weights stay out of results/baselines (about 3 MB per arm); the hashes are kept.
status=0
"$pb" run --arms "$arms" --repeat 2 --no-weights --out "$out" || status=$?
if [ ! -f "$out" ]; then exit "$status"; fi
echo "gpu_artifact: repeat status $status (1: some arm not bit-identical across two processes)"
"$pb" compare results/baselines/seed-cpu.json "$out" || echo "gpu_artifact: compare exit $?"
