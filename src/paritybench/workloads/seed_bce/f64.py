"""seed-bce's float64 arbiter: the kit's hand-derived NumPy forward pass and BCE gradient of its MLP."""

from paritybench.workloads.kit.f64 import forward, loss_and_grad

__all__ = ["forward", "loss_and_grad"]
