"""Many runs into one artifact: sweeps (resumable, sharded, on Ray), sensitivity, repeats."""
