"""Heads that sit on a backbone's (B, D) features.

- :class:`ProjectionHead`: SimCLR's MLP g(.) (Chen et al. 2020, section 2.1): "a MLP with one
  hidden layer ... z = W2 ReLU(W1 h)"; the loss is computed on z, the representation h is what
  gets evaluated. Optional BatchNorm after each hidden layer, as in SimCLR v2.
- :class:`LinearClassifier`: one linear layer to class logits, for supervised training.

Example::

    >>> head = ProjectionHead(256, 256, 128)
    >>> head(torch.zeros(4, 256)).shape
    torch.Size([4, 128])
"""

from __future__ import annotations

import torch
from torch import nn


class ProjectionHead(nn.Module):
    """MLP ``in_dim -> hidden_dim (x num_layers-1) -> out_dim`` with ReLU (and BN) between."""

    def __init__(self, in_dim: int, hidden_dim: int = 512, out_dim: int = 128,
                 num_layers: int = 2, batch_norm: bool = True) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"a projection head needs at least one layer, got {num_layers}")
        layers: list[nn.Module] = []
        width = in_dim
        for _ in range(num_layers - 1):
            layers.append(nn.Linear(width, hidden_dim, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm1d(hidden_dim))
            layers.append(nn.ReLU(inplace=True))
            width = hidden_dim
        layers.append(nn.Linear(width, out_dim))
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features)  # (B, out_dim)


class LinearClassifier(nn.Module):
    """Class logits from features: (B, D) -> (B, num_classes)."""

    def __init__(self, in_dim: int, num_classes: int) -> None:
        super().__init__()
        if num_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.linear = nn.Linear(in_dim, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features)
