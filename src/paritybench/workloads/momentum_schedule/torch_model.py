"""momentum-schedule in torch: the 784-32-10 tanh model, CE from logits, ``torch.optim.SGD(momentum=0.9)`` with a
``StepLR`` stepped after every optimizer step.

torch's SGD (``torch/optim/sgd.py``, ``_single_tensor_sgd`` :358-379): ``buf = g`` at the first step, then
``buf.mul_(m).add_(g)``; ``param.add_(buf, alpha=-lr)``: today's ``lr`` on the whole buffer, as optax's ``sgd``.
``StepLR(step_size, gamma)`` (``torch/optim/lr_scheduler.py``) multiplies the group's ``lr`` by ``gamma`` when its
count reaches a multiple of ``step_size``; called after ``optimizer.step()`` (its documented order), step ``k``
runs at ``lr * gamma ** (k // step_size)``, Keras's and optax's staircase schedule.

``keras_sgd`` (the fix in torch): Keras's rule with torch's own SGD: each gradient scaled by the step's learning
rate before it enters the buffer, then ``SGD(lr=1.0)``: ``buf = m*buf + lr_k*g; w -= buf``, i.e. ``buf = -v``.
"""

from __future__ import annotations

import torch

from paritybench.workloads.kit.torch import ce_logits
from paritybench.workloads.kit.torch import tanh_layers as layers
from paritybench.workloads.kit.torch import tanh_mlp as apply
from paritybench.workloads.momentum_schedule.workload import DROP_EVERY, GAMMA, MOMENTUM, lr_at

__all__ = [
    "KerasMomentumSGD",
    "SGDStepLR",
    "apply",
    "ce_logits",
    "keras_sgd",
    "layers",
    "sgd_nesterov_step_lr",
    "sgd_step_lr",
]


class SGDStepLR(torch.optim.SGD):
    """``torch.optim.SGD`` whose ``StepLR`` steps after every ``step()``: a training loop's
    ``opt.step(); sched.step()`` in the one call paritybench's torch trainer makes. ``foreach=False``: the
    single-tensor loop, the same arithmetic on every device."""

    def __init__(self, params, lr: float, momentum: float = MOMENTUM, nesterov: bool = False):
        super().__init__(params, lr=lr, momentum=momentum, nesterov=nesterov, foreach=False)
        self.scheduler = torch.optim.lr_scheduler.StepLR(self, step_size=DROP_EVERY, gamma=GAMMA)

    def step(self, closure=None):
        loss = super().step(closure)
        self.scheduler.step()
        return loss


def sgd_step_lr(params, lr: float) -> SGDStepLR:
    """The literal port in torch: the Keras model's momentum and step schedule."""
    return SGDStepLR(list(params.values()), lr)


def sgd_nesterov_step_lr(params, lr: float) -> SGDStepLR:
    """The literal port with ``nesterov=True``: ``w -= lr_k * (g + m * buf)``."""
    return SGDStepLR(list(params.values()), lr, nesterov=True)


class KerasMomentumSGD(torch.optim.SGD):
    """Keras's SGD momentum in torch: ``step()`` multiplies each ``.grad`` by the schedule's rate at this step
    (``lr * GAMMA ** (k // DROP_EVERY)``), then runs ``torch.optim.SGD(lr=1.0, momentum)``, so the buffer holds the
    learning-rate-scaled gradients Keras's velocity holds (negated)."""

    def __init__(self, params, lr: float, momentum: float = MOMENTUM):
        super().__init__(params, lr=1.0, momentum=momentum, foreach=False)
        self.base_lr, self.count = lr, 0

    @torch.no_grad()
    def step(self, closure=None):
        rate = lr_at(self.base_lr, self.count)
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    p.grad.mul_(rate)
        self.count += 1
        return super().step(closure)


def keras_sgd(params, lr: float) -> KerasMomentumSGD:
    """The fix in torch: Keras's momentum rule under the same step schedule."""
    return KerasMomentumSGD(list(params.values()), lr)
