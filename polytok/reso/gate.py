"""`CoherenceGate`: a learned, differentiable gate on a block's residual update.

TinyAleph lets a block's update through only when the state is "coherent". Made differentiable:
the coherence of an update ``u`` is ``c = sigma(w . LN(u) + b)`` (one scalar per token) and the
gated residual is ``x + g(c) u`` with ``g(c) = sigma(kappa (c - tau))`` and ``tau = 1/phi``.
``w = 0`` and a large ``b`` at initialisation make the gate open (``g`` close to 1), so a fresh
model starts as a plain residual network and learns where to close the gate.
"""

from __future__ import annotations

import math

import torch

from polytok.nn.golden import INV_PHI
from polytok.reso.probability import TokenProbability


def open_gate_value(tau: float, kappa: float, bias: float) -> float:
    """g(c) at initialisation, where ``c = sigma(bias)`` because ``w = 0``."""
    c = 1 / (1 + math.exp(-bias))
    return 1 / (1 + math.exp(-kappa * (c - tau)))


class CoherenceGate(TokenProbability):
    """x + g(c) u with coherence ``c = sigma(w . LN(u) + b)`` and ``g = sigma(kappa (c - tau))``.

    Args:
        dim: model width D.
        tau: threshold in (0, 1) (default 1/phi).
        kappa: gate sharpness (> 0).
        bias: initial b; with ``w = 0`` the gate starts at `open_gate_value` (0.97 for the
            defaults tau=1/phi, kappa=10, bias=4).
    """

    def __init__(
        self, dim: int, tau: float = INV_PHI, kappa: float = 10.0, bias: float = 4.0
    ) -> None:
        if not 0.0 < tau < 1.0:
            raise ValueError(
                f"coherence threshold tau must lie in (0, 1) (coherence is a probability), got "
                f"{tau}; the default is 1/phi = {INV_PHI:.6f}"
            )
        if kappa <= 0:
            raise ValueError(f"gate sharpness kappa must be > 0, got {kappa}")
        super().__init__(dim, bias)  # w = 0, b = bias: the gate starts open
        self.tau = tau
        self.kappa = kappa

    def coherence(self, update: torch.Tensor) -> torch.Tensor:
        """(B, T, D) update -> (B, T, 1) coherence c in (0, 1)."""
        return self.probability(update)

    def gate(self, update: torch.Tensor) -> torch.Tensor:
        """(B, T, D) update -> (B, T, 1) gate g(c) in (0, 1)."""
        return torch.sigmoid(self.kappa * (self.coherence(update) - self.tau))

    def forward(self, x: torch.Tensor, update: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Gate ``update`` into the residual stream ``x``.

        Args:
            x: (B, T, D) residual stream before the block.
            update: (B, T, D) the block's update.

        Returns:
            ``(x + g * update, g)`` with g of shape (B, T, 1).
        """
        g = self.gate(update)
        return x + g * update, g
