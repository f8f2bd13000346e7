#!/usr/bin/env bash
# usage: scripts/ci_compare.sh CPU.json [GPU.json]
# The CI comparison: the CPU artifact against the committed CPU baseline, and, when a GPU
# artifact is there, CPU against GPU and GPU against the GPU baseline (if committed).
# Markdown goes to $GITHUB_STEP_SUMMARY (stdout outside Actions). Exits with the worst
# status: 1 when any run is divergent, 2 when a pair could not be compared at all.
set -uo pipefail
cd "$(dirname "$0")/.."
pb=${PARITYBENCH:-.venv/bin/paritybench}
summary=${GITHUB_STEP_SUMMARY:-/dev/stdout}
baselines=results/baselines
cpu=$1 gpu=${2:-}
worst=0

compare() {  # TITLE REFERENCE OTHER
  local title=$1 report err rc
  shift
  report=$(mktemp) err=$(mktemp)
  # --overwrite: $report is the empty file mktemp made for this output
  "$pb" compare "$@" --format markdown --output "$report" --overwrite 2>"$err"
  rc=$?
  {
    echo "## $title (exit $rc)"
    echo
    cat "$report"
    if [ -s "$err" ]; then printf '\n```\n%s\n```\n' "$(cat "$err")"; fi
  } >>"$summary"
  cat "$err" >&2
  rm -f "$report" "$err"
  if [ "$rc" -gt "$worst" ]; then worst=$rc; fi
}

if [ ! -f "$cpu" ]; then
  echo "ci_compare: $cpu does not exist: the CPU job uploads it as parity-cpu/cpu.json" >&2
  exit 2
fi
compare "CPU vs committed CPU baseline" "$baselines/seed-cpu.json" "$cpu"
if [ -n "$gpu" ] && [ -f "$gpu" ]; then
  compare "GPU vs CPU (this commit)" "$cpu" "$gpu"
  if [ -f "$baselines/seed-gpu.json" ]; then
    compare "GPU vs committed GPU baseline" "$baselines/seed-gpu.json" "$gpu"
  fi
else
  echo "_No GPU artifact: the GPU job did not run (it is optional)._" >>"$summary"
fi
exit "$worst"
