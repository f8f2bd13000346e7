"""An existing torch port of keras_model.py, as a user writes it: no paritybench import."""

import torch
from torch import nn


class RowClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.LSTM(input_size=28, hidden_size=16, batch_first=True)
        self.out = nn.Linear(16, 10)

    def forward(self, x):
        h, _ = self.rnn(x)
        return self.out(h[:, -1])  # the last step, as Keras's LSTM returns by default; the logits


def build():
    return RowClassifier()


def sgd(params, lr):
    return torch.optim.SGD(params, lr=lr)


cross_entropy = nn.CrossEntropyLoss()  # from the logits, against the digits (class indices)
