#!/usr/bin/env bash
# usage: scripts/gpu_catalogue.sh OUTDIR [WORKLOAD ...]
# The catalogue's GPU measurements (issue 11), on a machine with an NVIDIA GPU, in one go:
#   1. tf32-matmul with the deterministic flags (NVIDIA_TF32_OVERRIDE=0, --xla_gpu_deterministic_ops) and
#      without them (--no-deterministic: what a user gets by default);
#   2. gpu-nondeterminism --repeat 2 (two fresh processes each) with and without the deterministic flags;
#   3. every other workload's preset on the GPU (one artifact each), to compare with the CPU baselines.
# Default: every built-in workload in `paritybench workloads` order; name some to run only those.
# TensorFlow is not needed: keras-tensorflow is `skipped` where it is not installed. Weights stay out
# (--no-weights); each artifact keeps the hashes. A step that fails is logged and the next one runs.
# DEADLINE (seconds since start, default 0 = none): no new step starts after it, so a time-boxed
# machine returns what it finished. PARITYBENCH / PYTHON choose the command and interpreter
# (default: the project's .venv). Afterwards, on any machine:
#   paritybench compare results/baselines/W-cpu.json OUTDIR/W-gpu.json
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:?usage: scripts/gpu_catalogue.sh OUTDIR [WORKLOAD ...]}
shift
py=${PYTHON:-.venv/bin/python}
read -r -a pb <<<"${PARITYBENCH:-.venv/bin/paritybench}"
deadline=${DEADLINE:-0}
start=$SECONDS
mkdir -p "$out"
"$py" -c 'import jax, sys; d = jax.devices(); print("jax devices:", d); sys.exit(0 if d[0].platform == "gpu" else 3)' \
  || { echo "gpu_catalogue: JAX sees no GPU: install the cuda12 extra and check nvidia-smi" >&2; exit 3; }

step() {  # step NAME ARGS...: one paritybench run, timed, unless the deadline has passed
  local name=$1; shift
  if [ "$deadline" -gt 0 ] && [ $((SECONDS - start)) -ge "$deadline" ]; then
    echo "gpu_catalogue: $name not started: deadline ${deadline}s passed"; return 0
  fi
  local t0=$SECONDS rc=0
  echo "=== $name: paritybench $* (at $((SECONDS - start)) s)"
  "${pb[@]}" "$@" || rc=$?
  echo "=== $name: exit $rc in $((SECONDS - t0)) s"
  if [ -n "${AFTER_STEP:-}" ]; then eval "$AFTER_STEP"; fi
}

# MODES (default "deterministic nondeterministic"): which halves of the two GPU workloads to run.
modes=${MODES:-deterministic nondeterministic}
if [ $# -eq 0 ]; then
  set -- $("$py" -c 'from paritybench.workloads.registry import BUILTIN; print(" ".join(BUILTIN))')
fi
for w in "$@"; do
  case $w in
    tf32-matmul|gpu-nondeterminism)
      rep=(); [ "$w" = gpu-nondeterminism ] && rep=(--repeat 2)
      for m in $modes; do
        if [ "$m" = deterministic ]; then
          step "$w-$m" run --workload "$w" "${rep[@]}" --no-weights --out "$out/$w-gpu.json"
        else
          step "$w-$m" run --workload "$w" "${rep[@]}" --no-deterministic --no-weights \
            --out "$out/$w-gpu-nondeterministic.json"
        fi
      done ;;
    *) step "$w" run --workload "$w" --no-weights --out "$out/$w-gpu.json" ;;
  esac
done
echo "gpu_catalogue: done in $((SECONDS - start)) s"
