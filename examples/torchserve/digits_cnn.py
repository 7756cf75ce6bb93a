"""The digits CNN's class: the `--model-file` of digits.mar (TorchServe's eager mode loads the
state dict `digits.pt` into it). Input: a batch of 8x8 images, values 0..16 as sklearn's
digits; output: 10 logits."""

from __future__ import annotations

import torch
from torch import nn


class DigitsCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc = nn.Linear(16 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv(x / 16.0)))
        return self.fc(x.flatten(1))
