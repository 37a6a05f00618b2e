"""`PonderHalting`: differentiable per-token halting over layers (PonderNet / ACT).

After layer ``l`` (1-based, of L) a halting unit gives ``lambda_l = sigma(w . LN(x_l) + b)``
(``lambda_L = 1``). The probability of halting exactly at ``l`` is
``p_l = lambda_l prod_{j<l} (1 - lambda_j)`` (Banino et al. 2021, PonderNet, eq. 3), the output is
the expectation ``sum_l p_l x_l`` (the mean-field form of Graves 2016, ACT, eq. 7), and the ponder
cost is the expected depth ``sum_l p_l l / L`` in (0, 1]. ``b`` starts negative so, at
initialisation, most of the mass sits on the last layer and the model behaves like a plain stack.
"""

from __future__ import annotations

import torch

from polytok.reso.probability import TokenProbability


class PonderHalting(TokenProbability):
    """Accumulates layer outputs under learned halting probabilities.

    Args:
        dim: model width D.
        num_layers: L (the unit is shared by layers ``1..L-1``; layer L always halts).
        bias: initial b (-3 gives lambda = 0.047 per layer at init).
    """

    def __init__(self, dim: int, num_layers: int, bias: float = -3.0) -> None:
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        super().__init__(dim, bias)  # w = 0, b = bias: halting mass starts on the last layer
        self.num_layers = num_layers

    def halting_probability(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) layer output -> (B, T, 1) lambda."""
        return self.probability(x)

    def forward(self, layer_outputs: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Combine the L layer outputs.

        Args:
            layer_outputs: L tensors (B, T, D), in layer order.

        Returns:
            ``(output (B, T, D), ponder_cost scalar)``: the expected output and the mean
            normalised expected depth.
        """
        if len(layer_outputs) != self.num_layers:
            raise ValueError(f"expected {self.num_layers} layer outputs, got {len(layer_outputs)}")
        remaining = torch.ones_like(layer_outputs[0][..., :1])  # (B, T, 1): P(not halted yet)
        output = torch.zeros_like(layer_outputs[0])
        depth = torch.zeros_like(remaining)
        for index, x in enumerate(layer_outputs, start=1):
            if index == self.num_layers:
                p = remaining
            else:
                lam = self.halting_probability(x)
                p = remaining * lam
                remaining = remaining * (1 - lam)
            output = output + p * x
            depth = depth + p * index
        return output, (depth / self.num_layers).mean()
