"""Rotary position tables and their application to query/key channels.

A rotary embedding rotates each channel pair ``(x_i, x_{i + d/2})`` of a query or key by an angle
``theta(n, k)`` that depends on the position ``n`` and the pair ``k``, so that the dot product of a
rotated query and key depends only on the angle difference (RoFormer, Su et al. 2021, eq. 34).
Standard rotary uses ``theta(n, k) = n * base^(-2k/d)``; any other angle table (for example
ResoFormer's resonance phases) reuses `apply_rotary` unchanged.

The half-split layout (GPT-NeoX) is used: pair ``k`` is channels ``k`` and ``k + d/2``.
"""

from __future__ import annotations

import torch
from torch import nn


def rotary_frequencies(dim: int, base: float = 10000.0) -> torch.Tensor:
    """Standard rotary inverse frequencies ``base^(-2k/dim)`` for ``k < dim/2``.

    Args:
        dim: number of rotated channels (even).
        base: wavelength base (RoFormer uses 10000).

    Returns:
        (dim/2,) float64 tensor.
    """
    if dim <= 0 or dim % 2:
        raise ValueError(f"rotary dim must be a positive even number, got {dim}")
    return base ** (-torch.arange(0, dim, 2, dtype=torch.float64) / dim)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the leading ``2 * cos.shape[-1]`` channels of ``x`` by the given angles.

    Args:
        x: (..., T, D) queries or keys.
        cos: (T, R) cosines of the angles of the R rotated pairs (``2 R <= D``).
        sin: (T, R) sines, same shape.

    Returns:
        (..., T, D): the first ``2R`` channels rotated pairwise (pair k = channels k and k + R),
        the remaining ``D - 2R`` channels unchanged.
    """
    pairs = cos.shape[-1]
    rot, rest = x[..., : 2 * pairs], x[..., 2 * pairs :]
    x1, x2 = rot[..., :pairs], rot[..., pairs:]  # (..., T, R) each
    cos = cos.to(x.dtype)
    sin = sin.to(x.dtype)
    rotated = torch.cat((x1 * cos - x2 * sin, x2 * cos + x1 * sin), dim=-1)  # (..., T, 2R)
    if rest.shape[-1] == 0:
        return rotated
    return torch.cat((rotated, rest), dim=-1)


class RotaryEmbedding(nn.Module):
    """Standard rotary angle table ``theta(n, k) = n * base^(-2k/dim)`` for ``n < max_positions``.

    The table is a non-persistent buffer rebuilt from the config, so it follows the module's
    device and never enters a checkpoint.

    Args:
        dim: number of rotated channels per head (even).
        max_positions: longest sequence supported.
        base: wavelength base.
    """

    def __init__(self, dim: int, max_positions: int, base: float = 10000.0) -> None:
        super().__init__()
        if max_positions <= 0:
            raise ValueError(f"max_positions must be positive, got {max_positions}")
        self.dim = dim
        self.max_positions = max_positions
        positions = torch.arange(max_positions, dtype=torch.float64)
        angles = torch.outer(positions, rotary_frequencies(dim, base))  # (T_max, dim/2)
        self.register_buffer("cos", angles.cos().float(), persistent=False)
        self.register_buffer("sin", angles.sin().float(), persistent=False)

    def forward(self, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Return ``(cos, sin)``, each (length, dim/2)."""
        if length > self.max_positions:
            raise ValueError(
                f"sequence length {length} exceeds max_positions={self.max_positions}; "
                "build the module with a larger max_positions"
            )
        return self.cos[:length], self.sin[:length]
