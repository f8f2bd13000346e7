"""Each framework's default Dense initialisers, drawn with JAX's own initializer functions.

Defaults as read in each library's source (the installed versions; the paths are given per item):

- Keras ``Dense``: kernel ``glorot_uniform`` = U(+-sqrt(6 / (fan_in + fan_out))), bias zeros
  (``keras/src/layers/core/dense.py``; VarianceScaling(1, fan_avg, uniform)).
- flax linen ``Dense``: kernel ``lecun_normal`` = truncated normal (+-2 sd) with std 1/sqrt(fan_in),
  bias zeros (``flax/linen/linear.py``; ``jax.nn.initializers.lecun_normal``).
- torch ``nn.Linear``: ``kaiming_uniform_(a=sqrt(5))`` = U(+-gain*sqrt(3/fan_in)) with gain sqrt(2/(1+5)),
  i.e. U(+-1/sqrt(fan_in)); bias U(+-1/sqrt(fan_in)) too (``torch/nn/modules/linear.py`` reset_parameters).
- stax ``Dense``: kernel ``glorot_normal`` = truncated normal with std sqrt(2 / (fan_in + fan_out)), bias
  ``normal(1e-2)`` (``jax/example_libraries/stax.py``: ``b_init=normal()``, stddev default 1e-2).

The kernels are in the (in, out) layout of the workload's parameters, so fan_in = shape[0]. The draws
use JAX's PRNG at ``PRNGKey(seed)`` split once per parameter (the distributions are the frameworks';
the random streams are not and cannot be: each framework has its own generator).
"""

from __future__ import annotations

import math

import numpy as np

from paritybench.workloads.init_defaults.workload import PARAMS

DEFAULTS = ("keras", "flax", "torch", "stax")


def torch_bound(fan_in: int) -> float:
    """torch Linear's weight and bias bound: kaiming_uniform(a=sqrt 5) gives gain*sqrt(3/fan_in) = 1/sqrt(fan_in)."""
    gain = math.sqrt(2.0 / (1 + 5))  # calculate_gain("leaky_relu", sqrt(5))
    return gain * math.sqrt(3.0 / fan_in)


def glorot_limit(fan_in: int, fan_out: int) -> float:
    """glorot_uniform's bound sqrt(6 / (fan_in + fan_out))."""
    return math.sqrt(6.0 / (fan_in + fan_out))


def draw(default: str, key, name: str, shape: tuple[int, ...], fan_in: int):
    """One parameter drawn with ``default``'s initialiser (kernel or bias by ``name``)."""
    import jax  # late: a framework: loads after the numerics flags
    import jax.numpy as jnp  # late: a framework: loads after the numerics flags
    from jax.nn import initializers as ini  # late: a framework: loads after the numerics flags

    kernel = name.endswith("kernel")
    f32 = jnp.float32
    if default == "keras":
        return ini.glorot_uniform()(key, shape, f32) if kernel else jnp.zeros(shape, f32)
    if default == "flax":
        return ini.lecun_normal()(key, shape, f32) if kernel else jnp.zeros(shape, f32)
    if default == "torch":
        b = torch_bound(fan_in)
        return jax.random.uniform(key, shape, f32, -b, b)
    if default == "stax":
        return ini.glorot_normal()(key, shape, f32) if kernel else ini.normal(1e-2)(key, shape, f32)
    raise ValueError(f"unknown default {default!r}: one of {', '.join(DEFAULTS)}")


def init_with(
    default: str, params: dict[str, tuple[int, ...]], seed: int, threefry_partitionable: bool = False
) -> dict[str, np.ndarray]:
    """Every parameter of ``params`` drawn with ``default``'s initialisers at ``PRNGKey(seed)``.

    A bias's fan_in (torch's bias bound) is that of the kernel declared just before it.
    """
    import jax  # late: a framework: loads after the numerics flags

    previous = jax.config.jax_threefry_partitionable
    jax.config.update("jax_threefry_partitionable", bool(threefry_partitionable))
    try:
        keys = jax.random.split(jax.random.PRNGKey(seed), len(params))
        out, fan_in = {}, None
        for k, (name, shape) in zip(keys, params.items(), strict=True):
            if name.endswith("kernel"):
                fan_in = shape[0]
            out[name] = np.asarray(draw(default, k, name, shape, fan_in or shape[0]), np.float32)
        return out
    finally:
        jax.config.update("jax_threefry_partitionable", previous)


def _bound(default: str):
    def init(seed: int, threefry_partitionable: bool = False) -> dict[str, np.ndarray]:
        return init_with(default, PARAMS, seed, threefry_partitionable)

    init.__doc__ = f"The workload's parameters with {default}'s default Dense initialisers."
    return init


keras_init = _bound("keras")
flax_init = _bound("flax")
torch_init = _bound("torch")
stax_init = _bound("stax")
