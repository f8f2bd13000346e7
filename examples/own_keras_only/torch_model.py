"""An existing torch model, its optimizer and its loss, as a user writes them: no paritybench import."""

import torch


def build():
    return torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))


def optimizer(params, lr):
    return torch.optim.SGD(params, lr=lr)


loss = torch.nn.MSELoss()
