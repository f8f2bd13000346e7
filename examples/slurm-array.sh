#!/bin/bash
# A paritybench sweep sharded over a Slurm job array: task I of N trains shard I/N
# (SLURM_ARRAY_TASK_ID, 0-based) into its own artifact; then merge once all are done:
#   jid=$(sbatch --parsable examples/slurm-array.sh)
#   sbatch --dependency=afterok:$jid --wrap "paritybench merge results/shards/sweep-shard-*.json --out results/sweep.json"
# --array must be 0-(SHARDS-1) (tests/test_examples.py checks it). A requeued task resumes its shard.
#SBATCH --job-name=paritybench-sweep
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=01:00:00
#SBATCH --requeue
set -euo pipefail
SHARDS=4
mkdir -p results/shards
out="results/shards/sweep-shard-${SLURM_ARRAY_TASK_ID}.json"
if [ -e "$out.partial.jsonl" ]; then
    paritybench sweep --resume "$out"
else
    paritybench sweep --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}" --out "$out"
fi
