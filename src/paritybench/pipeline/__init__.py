"""One run: the runner that trains a workload's arms, its worker processes, memory budget and diagnostics."""
