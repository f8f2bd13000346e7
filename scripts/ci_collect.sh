#!/usr/bin/env bash
# usage: scripts/ci_collect.sh RESULTS_DIR OUT_DIR NAME
# Copies the newest artifact in RESULTS_DIR to OUT_DIR/NAME.json, with its weights file
# (under its own name, which the artifact's "weights_file" points to) when there is one.
set -euo pipefail
src=$1 out=$2 name=$3
newest=$(ls -t "$src"/*.json 2>/dev/null | head -n 1 || true)
if [ -z "$newest" ]; then
  echo "ci_collect: no artifact (*.json) in $src: the benchmark did not write one" >&2
  exit 2
fi
mkdir -p "$out"
cp "$newest" "$out/$name.json"
weights="${newest%.json}.weights.npz"
if [ -f "$weights" ]; then cp "$weights" "$out/"; fi
echo "ci_collect: $newest -> $out/$name.json"
