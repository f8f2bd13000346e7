"""paritybench: paired training arms that show why one model trains differently
in two frameworks (or on two machines), with the evidence in a JSON artifact.

Importing this package imports no ML framework: numerics flags must be set in the
environment before JAX, TensorFlow or torch load (see ``paritybench.experiment.flags``).
"""

__version__ = "0.1.0"

# Artifact schema version: bump the major when a reader of the old format would
# misread the new one (compare refuses across majors); the minor when a field is added that
# ``artifact.upgrade`` fills in for older files (2.1: ``reference_arm``).
SCHEMA_VERSION = "2.1"
# Majors this paritybench still reads (validate, compare, report): 1 is the seed experiment
# before workloads, read as the seed-bce workload.
READABLE_MAJORS = ("1", "2")
