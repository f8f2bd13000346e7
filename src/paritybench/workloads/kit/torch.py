"""The MLP in torch (functional, over the declared (in, out) parameters) and torch's own losses and optimizers.

- ``bce``: the literal port, ``F.binary_cross_entropy(torch.sigmoid(z), y)``. aten's kernel
  (``aten/src/ATen/native/Loss.cpp``, ``binary_cross_entropy_out_cpu``) clamps each log at -100, so the loss
  of a saturated sample is 100, never inf; its backward is ``(p - y) / max(p (1 - p), 1e-12)``, finite, and
  the sigmoid's own backward multiplies it by ``p (1 - p)``, which is exactly 0 once ``p`` rounds to 1.0
  (``z > 16.64``) and once it underflows to 0.0 (``z < -88.7``): every such sample's gradient is dead,
  whatever its label. For a label-0 sample with a tiny non-zero ``p`` the product is about ``1e12 p^2``, which
  underflows too. At seed 0, window 0: 119 + 256 + 44 = 419 samples (``tools/claims.py``).
- ``bce_logits``: ``F.binary_cross_entropy_with_logits(z, y)`` (aten: ``(1 - y) z - log_sigmoid(z)``),
  finite with a live gradient for every ``z``.
- ``ce_logits``: categorical CE from logits against one-hot labels.

Beside them the BatchNormalization MLP's pieces (``bn_initial``, ``bn_mlp``) and the small image classifier's
layers (``kit.conv``), channels-first: ``conv2d`` and ``nhwc_dense``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from paritybench.workloads.kit.optimizers import BETA_1, BETA_2, EPSILON

ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


def mlp(params, x, activation: str = "relu"):
    """The logits: ``x @ kernel + bias`` per ``dense_i``, ``activation`` on all but the last; kernels in the
    declared (in, out) layout, as in JAX. (torch.relu's gradient at 0 is 0, as jax.nn.relu's.)"""
    act = ACTIVATIONS[activation]
    depth = sum(1 for k in params if k.startswith("dense_") and k.endswith("/kernel"))
    h = x
    for i in range(depth - 1):
        h = act(h @ params[f"dense_{i}/kernel"] + params[f"dense_{i}/bias"])
    return h @ params[f"dense_{depth - 1}/kernel"] + params[f"dense_{depth - 1}/bias"]


def mlp_layers(params, x, activation: str = "relu"):
    """Each named layer's output in forward order (``Model.torch_layers``, the twin of ``kit.jax.mlp_layers``):
    per hidden layer, its pre-activation ``dense_i`` and ``dense_i/<activation>`` (Keras's
    ``Dense(activation=...)`` output); the last Dense's output is the logits."""
    act = ACTIVATIONS[activation]
    depth = sum(1 for k in params if k.startswith("dense_") and k.endswith("/kernel"))
    out, h = {}, x
    for i in range(depth - 1):
        out[f"dense_{i}"] = pre = h @ params[f"dense_{i}/kernel"] + params[f"dense_{i}/bias"]
        out[f"dense_{i}/{activation}"] = h = act(pre)
    return out


def bce(z, y):
    """The literal port: BCE on sigmoid probabilities (torch clamps each log at -100)."""
    return F.binary_cross_entropy(torch.sigmoid(z), y)


def bce_logits(z, y):
    """BCE from the logits."""
    return F.binary_cross_entropy_with_logits(z, y)


def ce_logits(z, y):
    """Categorical CE from logits against one-hot labels (``F.cross_entropy`` with class probabilities)."""
    return F.cross_entropy(z, y)


def adam(params, lr: float, eps: float = EPSILON, betas: tuple[float, float] = (BETA_1, BETA_2)):
    """``torch.optim.Adam`` with Keras's betas and epsilon value by default (the literal port of a Keras
    model's Adam in torch: eps on the bias-corrected sqrt(v_hat)). ``foreach=False``: the single-tensor loop,
    the same arithmetic on every device."""
    return torch.optim.Adam(list(params.values()), lr=lr, betas=betas, eps=eps, foreach=False)


def relu_mlp(params, x):
    """``mlp`` with ReLU hidden layers: the logits."""
    return mlp(params, x, "relu")


def tanh_mlp(params, x):
    """``mlp`` with tanh hidden layers: the logits."""
    return mlp(params, x, "tanh")


def tanh_layers(params, x):
    """``mlp_layers`` with tanh: ``dense_i`` and ``dense_i/tanh`` per hidden layer."""
    return mlp_layers(params, x, "tanh")


def conv2d(params, x, side: int, *, stride: int = 1, padding: int = 0, pad_input=None, crop: int = 0):
    """The twin of ``kit.jax.conv2d`` channels-first: flat ``side * side`` rows as NCHW [cropped by ``crop``]
    [``F.pad``-ed by ``pad_input``], ``F.conv2d`` with the declared (kh, kw, in, out) kernel permuted to torch's
    (out, in, kh, kw), plus ``conv/bias``; NCHW out, before any activation."""
    images = x.reshape(-1, 1, side, side)
    if crop:
        images = images[:, :, crop : side - crop, crop : side - crop]
    if pad_input is not None:
        images = F.pad(images, pad_input)
    weight = params["conv/kernel"].permute(3, 2, 0, 1)
    return F.conv2d(images, weight, params["conv/bias"], stride=stride, padding=padding)


def nhwc_dense(params, features):
    """The Dense after Keras's ``Flatten`` on an NCHW map: read in Keras's (h, w, c) order, so that the declared
    ``dense/kernel`` meets the features it meets in Keras."""
    h = features.permute(0, 2, 3, 1).reshape(features.shape[0], -1)
    return h @ params["dense/kernel"] + params["dense/bias"]


def bn_initial(x, initial):
    """The moving statistics at their initial values, ``initial`` = (``kit.mlp.bn_state``'s shapes, values)."""
    shapes, values = initial
    return {k: torch.full(s, values[k], dtype=x.dtype, device=x.device) for k, s in shapes.items()}


def bn_head(params, h):
    """The ReLU after the BatchNormalization and ``dense_1``: the logits."""
    return torch.relu(h) @ params["dense_1/kernel"] + params["dense_1/bias"]


def bn_mlp(params, x, state, training: bool, initial, *, momentum: float, eps: float):
    """The MLP of ``kit.mlp.bn_params`` with ``F.batch_norm`` (torch's ``momentum``: the share of the new batch
    taken; the running variance unbiased): ``(logits, new_state)``, the running statistics updated on copies
    (the caller's state is kept)."""
    state = bn_initial(x, initial) if state is None else state
    mean, var = state["bn/moving_mean"].clone(), state["bn/moving_variance"].clone()
    h = x @ params["dense_0/kernel"] + params["dense_0/bias"]
    h = F.batch_norm(h, mean, var, params["bn/gamma"], params["bn/beta"], training=training, momentum=momentum, eps=eps)
    return bn_head(params, h), {"bn/moving_mean": mean, "bn/moving_variance": var}
