"""The parameter table of a torch ``nn.Module``, and assigning mapped weights to it (torch imported when called).

Order. ``named_parameters()`` and ``named_buffers()`` list weights in *registration* order: the order in which
``__init__`` assigned the submodules, which is the forward order for ``nn.Sequential`` and for most modules
but not for one whose ``__init__`` creates its layers in another order than ``forward`` calls them. Given an
``example`` input, :func:`read_torch` runs one forward pass (in eval mode, without gradients, the modules'
training flags restored after) with forward hooks and lists the layers in the order they were first called;
the hooks also see the input shape of each ``nn.Flatten``, which marks the next ``Linear``'s weight with the
feature map's ``(C, *spatial)`` shape (a ``torch.flatten`` or ``view`` call in ``forward`` is not a module and
is not seen: pass ``flatten_from={layer: (C, H, W)}`` or read it from the Keras side, which always knows).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from paritybench.errors import ParityError

from .mapping import Param, check_assignable

# torch module class -> the mapping's layer type
LAYER_TYPES = {
    "Linear": "dense",
    "Conv1d": "conv1d",
    "Conv2d": "conv2d",
    "Conv3d": "conv3d",
    "Embedding": "embedding",
    "BatchNorm1d": "batchnorm",
    "BatchNorm2d": "batchnorm",
    "BatchNorm3d": "batchnorm",
    "LayerNorm": "layernorm",
    "LSTM": "lstm",
    "GRU": "gru",
}

# torch's variable names -> the mapping's roles (Keras's names), per layer type
_ROLES = {
    "dense": {"weight": "kernel", "bias": "bias"},
    "conv1d": {"weight": "kernel", "bias": "bias"},
    "conv2d": {"weight": "kernel", "bias": "bias"},
    "conv3d": {"weight": "kernel", "bias": "bias"},
    "embedding": {"weight": "embeddings"},
    "batchnorm": {
        "weight": "gamma",
        "bias": "beta",
        "running_mean": "moving_mean",
        "running_var": "moving_variance",
        "num_batches_tracked": "num_batches_tracked",
    },
    "layernorm": {"weight": "gamma", "bias": "beta"},
}
_RNN = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")
_RNN_ROLES = {"weight_ih": "kernel", "weight_hh": "recurrent_kernel", "bias_ih": "bias", "bias_hh": "recurrent_bias"}


def _dtype(t: Any) -> str:
    return str(t.dtype).removeprefix("torch.")


def _forward_order(module: Any, example: Any) -> tuple[list[str], dict[str, tuple[int, ...]]]:
    """The modules' names in the order a forward pass first calls them, and the (C, *spatial) shape each
    ``nn.Flatten`` flattened, keyed by the next module with weights called after it."""
    import torch  # late: torch is an optional extra, loaded only for a torch model

    order: list[str] = []
    flatten: dict[str, tuple[int, ...]] = {}
    pending: list[tuple[int, ...] | None] = [None]
    names = {id(m): n for n, m in module.named_modules()}

    def hook(mod: Any, inputs: tuple[Any, ...], _out: Any) -> None:
        name = names[id(mod)]
        if isinstance(mod, torch.nn.Flatten):
            shape = tuple(inputs[0].shape[1:])
            pending[0] = shape if len(shape) > 1 else None
            return
        own = list(mod.named_parameters(recurse=False)) + list(mod.named_buffers(recurse=False))
        if not own:
            return
        if name not in order:
            order.append(name)
            if pending[0] is not None and isinstance(mod, torch.nn.Linear):
                flatten[name] = pending[0]
        pending[0] = None

    handles = [m.register_forward_hook(hook) for m in module.modules()]
    modes = {id(m): m.training for m in module.modules()}
    try:
        module.eval()
        with torch.no_grad():
            if isinstance(example, tuple):
                module(*example)
            else:
                module(example)
    finally:
        for h in handles:
            h.remove()
        for m in module.modules():
            m.training = modes[id(m)]
    return order, flatten


def read_torch(
    module: Any, example: Any = None, flatten_from: Mapping[str, tuple[int, ...]] | None = None
) -> list[Param]:
    """The parameter table of ``module``: each submodule's own parameters, then its persistent buffers, in
    registration order, or in forward order when an ``example`` input (a tensor or a tuple of them) is given."""
    groups: list[tuple[str, Any]] = [
        (name, m)
        for name, m in module.named_modules()
        if list(m.named_parameters(recurse=False)) or list(m.named_buffers(recurse=False))
    ]
    seen_flatten: dict[str, tuple[int, ...]] = {}
    if example is not None:
        order, seen_flatten = _forward_order(module, example)
        rank = {n: i for i, n in enumerate(order)}
        groups.sort(key=lambda g: rank.get(g[0], len(rank)))  # modules never called keep their place, last
    flatten = {**seen_flatten, **dict(flatten_from or {})}
    table: list[Param] = []
    for mname, m in groups:
        cls = type(m).__name__
        layer_type = LAYER_TYPES.get(cls, cls.lower())
        skip: set[str] = getattr(m, "_non_persistent_buffers_set", set())
        own = list(m.named_parameters(recurse=False)) + [
            (n, b) for n, b in m.named_buffers(recurse=False) if n not in skip and b is not None
        ]
        for vname, t in own:
            layer = mname or "(root)"
            if layer_type in ("lstm", "gru"):
                match = _RNN.match(vname)
                if match is None or match.group(3):
                    raise ParityError(
                        f"weight mapping: torch {cls} {layer!r} has weight {vname!r} (bidirectional or proj_size): "
                        f"no rule maps it; map it by hand with overrides and transforms"
                    )
                role = _RNN_ROLES[match.group(1)]
                if getattr(m, "num_layers", 1) > 1:
                    layer = f"{layer}/l{match.group(2)}"  # one mapped layer per stacked layer (Keras stacks layers)
            else:
                role = _ROLES.get(layer_type, {}).get(vname, vname)
            full = f"{mname}.{vname}" if mname else vname
            ff = flatten.get(mname) if layer_type == "dense" and role == "kernel" else None
            table.append(Param("torch", layer, layer_type, role, full, tuple(t.shape), _dtype(t), ff))
    return table


def torch_arrays(module: Any) -> dict[str, np.ndarray]:
    """Every parameter and persistent buffer of ``module`` as a NumPy array, by its full name."""
    return {k: v.detach().cpu().numpy() for k, v in module.state_dict().items()}


def assign_torch(module: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """Copy mapped arrays into ``module``'s parameters and buffers (by full name), shapes checked first."""
    import torch  # late: torch is an optional extra, loaded only for a torch model

    state = module.state_dict()
    check_assignable(arrays, {k: tuple(v.shape) for k, v in state.items()}, "torch module", "torch", "module")
    with torch.no_grad():
        for name, value in arrays.items():
            t = state[name]
            t.copy_(torch.as_tensor(np.asarray(value), dtype=t.dtype))
