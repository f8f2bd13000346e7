"""One run: the runner that trains a workload's arms, its worker processes and memory budget; localize, conventions."""
