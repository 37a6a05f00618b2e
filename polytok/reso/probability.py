"""`TokenProbability`: ``sigma(w . LN(x) + b)``, one probability per token, the body shared by
`CoherenceGate` (coherence of an update) and `PonderHalting` (halting after a layer).

``w = 0`` and ``b = bias`` at initialisation, so the probability starts at ``sigma(bias)`` for
every input: an open gate, or halting mass on the last layer.
"""

from __future__ import annotations

import torch
from torch import nn


class TokenProbability(nn.Module):
    """(B, T, D) -> (B, T, 1) probability ``sigma(w . LN(x) + b)``.

    Args:
        dim: model width D.
        bias: initial b (``w`` starts at 0).
    """

    def __init__(self, dim: int, bias: float) -> None:
        super().__init__()
        self.initial_bias = bias
        self.norm = nn.LayerNorm(dim)
        self.score = nn.Linear(dim, 1)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """``w = 0``, ``b = bias``."""
        self.norm.reset_parameters()
        nn.init.zeros_(self.score.weight)
        nn.init.constant_(self.score.bias, self.initial_bias)

    def probability(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, 1) in (0, 1)."""
        return torch.sigmoid(self.score(self.norm(x)))
