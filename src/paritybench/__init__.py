"""paritybench: paired training arms that show why one model trains differently
in two frameworks (or on two machines), with the evidence in a JSON artifact.

Importing this package imports no ML framework: numerics flags must be set in the
environment before JAX, TensorFlow or torch load (see ``paritybench.experiment.flags``).
"""

import os as _os
import sys as _sys

__version__ = "0.1.0"

# Not numerics: how soon idle helper threads sleep. OpenBLAS (NumPy's BLAS) keeps each idle thread spinning for
# 2^28 cycles (~0.1 s) after every call, and GNU OpenMP (torch's CPU threads) spins too, unless
# OMP_WAIT_POLICY=PASSIVE. The float64 diagnostics and torch's eager steps call them hundreds of times with Python
# work in between, so on a busy machine that spinning is CPU time taken from the run's other processes (the Keras
# workers). OPENBLAS_THREAD_TIMEOUT=4 (the least OpenBLAS takes) and OMP_WAIT_POLICY=PASSIVE put them to sleep at
# once; the same threads split the same work, so every result is the same bits (measured:
# results/timing/main-job-profile-2cpu-20261207.md). Each library reads its variable once, when it loads, so they
# are set here, before any paritybench module imports NumPy or torch, unless the user set them (and recorded, as
# every OPENBLAS_ and OMP_ variable, in the artifact's environment.numerics_env); the Keras workers inherit them.
IDLE_THREADS_SLEEP = {
    var: _os.environ.setdefault(var, value)
    for var, value, library in (("OPENBLAS_THREAD_TIMEOUT", "4", "numpy"), ("OMP_WAIT_POLICY", "PASSIVE", "torch"))
    if library not in _sys.modules
}

# Artifact schema version: bump the major when a reader of the old format would
# misread the new one (compare refuses across majors); the minor when a field is added that
# ``artifact.upgrade`` fills in for older files (2.1: ``reference_arm``).
SCHEMA_VERSION = "2.1"
# Majors this paritybench still reads (validate, compare, report): 1 is the seed experiment
# before workloads, read as the seed-bce workload.
READABLE_MAJORS = ("1", "2")
