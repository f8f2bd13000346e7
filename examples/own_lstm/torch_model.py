"""An existing torch port of keras_model.py, as a user writes it: no paritybench import."""

import torch
from torch import nn


class SequenceRegressor(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(input_size=3, hidden_size=8, batch_first=True)
        self.out = nn.Linear(8, 2)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h[:, -1])  # the last step, as Keras's LSTM returns by default


def build():
    return SequenceRegressor()


def sgd(params, lr):
    return torch.optim.SGD(params, lr=lr)


mse = nn.MSELoss()
