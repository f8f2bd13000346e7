"""The float64 arbiter in torch: a torch arm's own forward pass, loss and optimizer, run in float64.

For a workload whose model is the user's torch module and no JAX model (``adapters.arms.own_workload`` with
``reference="torch"``), the arbiter is the same torch arm with its parameters, data and model state in float64
(``torch_trainer`` with ``dtype=np.float64``): torch autograd differentiates in the tensors' dtype, and
``torch.optim`` keeps its state in the parameters' dtype (``torch/optim/adam.py`` ``_init_group``:
``exp_avg = torch.zeros_like(p, memory_format=torch.preserve_format)``; the bias corrections are Python floats
from ``_get_value(step_t)``, ``.item()`` of the step counter, in ``_single_tensor_adam`` and in
``_multi_tensor_adam`` when not capturable). Its float32 twin (``localize``'s noise floor) is the same arm as a
plain torch arm. It runs in the harness's own process, as the JAX arbiter does.
"""

from __future__ import annotations

import numpy as np

from paritybench.arms import torch_trainer
from paritybench.arms.base import ArmResult, TrainSpec
from paritybench.arms.kind import Batches
from paritybench.arms.requirements import missing_requirements
from paritybench.experiment.weights import Weights
from paritybench.workloads.base import Arm, Workload

F64 = np.float64


class TorchArbiter:
    """The ``kind.Arbiter`` of a torch float64 arm: its training, and its float64 gradient at any weights."""

    def __init__(self, workload: Workload, arm: Arm):
        self.workload, self.arm = workload, arm
        self._model: torch_trainer._Model | None = None

    def run(self, init: Weights, x: np.ndarray, y: np.ndarray, spec: TrainSpec) -> ArmResult:
        return torch_trainer.train_one(self.workload, self.arm, init, x, y, spec, dtype=F64)

    def grad_at(self, w: Weights, x64: np.ndarray, y64: np.ndarray) -> Weights:
        import torch  # late: a framework: loads after the numerics flags

        if self._model is None:
            self._model = torch_trainer._Model(self.workload, self.arm)
        dev = torch_trainer.device()
        params = torch_trainer.leaf_params(w, self.workload.model.names, dev, F64)
        state = {k: torch.tensor(v.astype(F64), device=dev) for k, v in self.workload.model.initial_state().items()}
        xt, yt = (torch.tensor(np.asarray(a, F64), device=dev) for a in (x64, y64))
        _, _, _, grads, _ = self._model.loss_and_grads(params, state, xt, yt)
        return {k: torch_trainer.to_numpy(g).astype(F64) for k, g in grads.items()}

    def batch_grad(self, w: Weights, xb: np.ndarray, yb: np.ndarray) -> Weights:
        # training mode on the batch's rows (a BatchNorm on the batch's own statistics, as ``BatchArbiter``)
        return self.grad_at(w, xb, yb)

    def correct(self, weights: Weights, x: np.ndarray, y: np.ndarray) -> int:
        return torch_trainer.evaluate_correct(self.workload, self.arm, weights, x, y, dtype=F64)


class TorchF64Kind(torch_trainer.TorchKind):
    """The float64 arbiter as a torch arm (``Workload.reference``), in the harness's process."""

    name = "torch-f64"
    dtype = F64
    float32_kind = "torch"
    code_kind = "torch"  # a switch reads and changes it as the torch arm it is, in float64

    def arbiter(self, workload: Workload, arm: Arm) -> TorchArbiter:
        return TorchArbiter(workload, arm)

    def train_many(self, workload, arm, inits, x, y, spec, eval_data=None) -> list[ArmResult]:
        return torch_trainer.train_many(workload, arm, inits, x, y, spec, eval_data, dtype=F64)

    def evaluator(self, ctx, arm: Arm) -> torch_trainer.TorchEvaluator:
        data: Batches = ctx.batches_for(arm)
        return torch_trainer.TorchEvaluator(ctx.workload, arm, ctx.lr, data, ctx.numerics, dtype=F64)

    def conventions(self, workload, arm, lr, numerics, keras_rows=None) -> dict | None:
        if missing_requirements(arm):
            return None  # skipped: torch is not installed, nothing to read
        return torch_trainer.conventions_rows(workload, arm, lr, torch_trainer.configure(numerics), dtype=F64)
