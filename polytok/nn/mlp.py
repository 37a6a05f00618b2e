"""The transformer position-wise feed-forward block."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class MLP(nn.Module):
    """FFN(x) = W2 GELU(W1 x) (Vaswani et al. 2017, eq. 2, with GELU as in GPT-2).

    Args:
        dim: model width D.
        hidden_dim: inner width (GPT-2 uses 4 D).
        dropout: dropout on the output.
        bias: whether the linear layers have biases.
    """

    def __init__(
        self, dim: int, hidden_dim: int | None = None, dropout: float = 0.0, bias: bool = False
    ) -> None:
        super().__init__()
        hidden_dim = 4 * dim if hidden_dim is None else hidden_dim
        if dim <= 0 or hidden_dim <= 0:
            raise ValueError(f"dim and hidden_dim must be positive, got {dim} and {hidden_dim}")
        self.fc = nn.Linear(dim, hidden_dim, bias=bias)
        self.proj = nn.Linear(hidden_dim, dim, bias=bias)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., D) -> (..., D)."""
        return self.dropout(self.proj(F.gelu(self.fc(x))))
