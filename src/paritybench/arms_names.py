"""Arm names without importing any framework (the CLI checks them before flags are set)."""

ARM_NAMES: tuple[str, ...] = (
    "jax-naive", "jax-seed-stable", "jax-keras-clip", "jax-keras-torch-clip", "jax-logits",
    "keras-tensorflow", "keras-jax", "keras-torch", "reference-f64",
)
