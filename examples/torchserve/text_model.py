"""The text classifier's class: the `--model-file` of text-classifier.mar, shaped as TorchServe's
built-in `text_classifier` handler expects (`forward(text, offsets)`, an `embedding`)."""

from __future__ import annotations

import torch
from torch import nn


class TextClassificationModel(nn.Module):
    def __init__(self, vocab_size: int = 128, embed_dim: int = 16, num_class: int = 2) -> None:
        super().__init__()
        self.embedding = nn.EmbeddingBag(vocab_size, embed_dim)
        self.fc = nn.Linear(embed_dim, num_class)

    def forward(self, text: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.fc(self.embedding(text, offsets))
