"""The switches ``paritybench explain`` tries, registered once: each one convention, one module
(``switches.base`` says what a switch is). Adding one: a module with a ``SWITCH`` and one line here."""

from __future__ import annotations

from paritybench.switches import (
    adam_epsilon,
    batch_order,
    bn_epsilon,
    bn_momentum,
    bn_variance,
    compute_dtype,
    conv_padding,
    dropout_at_eval,
    dropout_rate,
    flatten_order,
    forward_pass,
    gelu_approximate,
    leaky_relu_slope,
    loss_logits,
    loss_reduction,
    master_weights,
    momentum_lr,
    nesterov,
    per_sample,
    pool_padding,
    recurrent_bias,
    weight_decay,
    weighted_divisor,
)
from paritybench.switches.base import FAMILIES, Refusal, Switch, Target

SWITCHES: tuple[Switch, ...] = (
    loss_logits.SWITCH,
    per_sample.SWITCH,
    loss_reduction.SWITCH,
    weighted_divisor.SWITCH,
    adam_epsilon.SWITCH,
    weight_decay.SWITCH,
    momentum_lr.SWITCH,
    nesterov.SWITCH,
    bn_momentum.SWITCH,
    bn_variance.SWITCH,
    bn_epsilon.SWITCH,
    gelu_approximate.SWITCH,
    leaky_relu_slope.SWITCH,
    flatten_order.SWITCH,
    pool_padding.SWITCH,
    conv_padding.SWITCH,
    recurrent_bias.SWITCH,
    batch_order.SWITCH,
    master_weights.SWITCH,
    compute_dtype.SWITCH,
    dropout_rate.SWITCH,
    dropout_at_eval.SWITCH,
    forward_pass.SWITCH,
)

__all__ = ["FAMILIES", "SWITCHES", "Refusal", "Switch", "Target"]
