"""The experiment's inputs: configuration, data windows, weights, numerics flags and the environment."""
