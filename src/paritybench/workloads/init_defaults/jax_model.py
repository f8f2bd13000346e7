"""init-defaults in JAX: the seed's 784-1000-1 MLP (ReLU as ``jnp.maximum``) and BCE from logits, the one way
every arm trains (the kit's); the initial weights per arm are in ``initializers``."""

from __future__ import annotations

from paritybench.workloads.kit.jax import maximum_mlp as apply
from paritybench.workloads.kit.losses import bce_logits as logits

__all__ = ["apply", "logits"]
