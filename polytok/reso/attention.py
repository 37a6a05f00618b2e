"""`ResonantAttention`: causal SDPA with resonance phases and golden-ratio head weights.

The TinyAleph resonance operator acts on a prime basis state as ``R(n)|p> = exp(2 pi i log_p n)|p>``.
Here it becomes a rotary phase: channel pair ``k`` of every query and key at position ``t`` is
rotated by ``theta(n, k) = 2 pi ln(n) / ln(q_k)`` with ``n = t + 1`` and ``q_k`` the k-th prime.
Because rotations compose, a query-key score depends on ``2 pi ln(n_q / n_k) / ln q_k``: a
relative position on a logarithmic (scale-free) axis, where standard rotary (RoFormer, Su et al.
2021) gives a linear one. Both kinds of channels can be mixed in one head.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from polytok.nn.attention import CausalSelfAttention
from polytok.nn.golden import PHI
from polytok.nn.rotary import apply_rotary, rotary_frequencies
from polytok.reso.primes import first_primes


def golden_head_weights(num_heads: int) -> torch.Tensor:
    """(H,) weights ``phi^-h`` for ``h = 0..H-1``, normalised to mean 1."""
    w = PHI ** -torch.arange(num_heads, dtype=torch.float64)
    return (w / w.mean()).float()


def resonance_angles(max_positions: int, primes: list[int]) -> torch.Tensor:
    """(T, K) resonance phases ``2 pi ln(t + 1) / ln(q_k)`` for positions ``t < T``.

    Args:
        max_positions: T.
        primes: the K primes ``q_k`` (one per rotated channel pair).
    """
    n = torch.arange(1, max_positions + 1, dtype=torch.float64)
    q = torch.tensor(primes, dtype=torch.float64)
    return torch.outer(n.log(), 2 * math.pi / q.log())  # (T, K)


class ResonantAttention(nn.Module):
    """Causal self-attention whose queries and keys carry resonance and/or rotary phases.

    Per head (width ``Dh = dim / num_heads``), the first ``resonant_dim`` channels get resonance
    phases, the next ``rotary_dim`` channels standard rotary phases, and the rest none. With both
    zero and ``golden_heads=False`` this is plain causal attention.

    Args:
        dim: model width D.
        num_heads: heads H.
        max_positions: longest sequence (phase tables are precomputed up to it).
        resonant_dim: even number of channels per head with resonance phases.
        rotary_dim: even number of channels per head with standard rotary phases.
        rotary_base: standard rotary wavelength base.
        golden_heads: weight head outputs by `golden_head_weights`.
        dropout: attention and output dropout.
        bias: projection biases.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        max_positions: int,
        resonant_dim: int = 0,
        rotary_dim: int = 0,
        rotary_base: float = 10000.0,
        golden_heads: bool = False,
        dropout: float = 0.0,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.attn = CausalSelfAttention(dim, num_heads, dropout=dropout, bias=bias)
        head_dim = self.attn.head_dim
        for name, value in (("resonant_dim", resonant_dim), ("rotary_dim", rotary_dim)):
            if value < 0 or value % 2:
                raise ValueError(
                    f"{name} must be a non-negative even number of channels (rotations act on "
                    f"pairs), got {value}"
                )
        if resonant_dim + rotary_dim > head_dim:
            raise ValueError(
                f"resonant_dim + rotary_dim = {resonant_dim + rotary_dim} exceeds the head width "
                f"{head_dim} (dim={dim} / num_heads={num_heads}); lower them or widen the heads"
            )
        self.max_positions = max_positions
        self.resonant_dim = resonant_dim
        self.rotary_dim = rotary_dim
        angles = [torch.zeros(max_positions, 0, dtype=torch.float64)]
        if resonant_dim:
            angles.append(resonance_angles(max_positions, first_primes(resonant_dim // 2)))
        if rotary_dim:
            pos = torch.arange(max_positions, dtype=torch.float64)
            angles.append(torch.outer(pos, rotary_frequencies(rotary_dim, rotary_base)))
        angle = torch.cat(angles, dim=-1)  # (T_max, R) with R = (resonant_dim + rotary_dim) / 2
        # The two kinds are stacked into one table so a single rotation handles both; pair k of
        # the stacked table is channels k and k + R of the head.
        self.register_buffer("cos", angle.cos().float(), persistent=False)
        self.register_buffer("sin", angle.sin().float(), persistent=False)
        if golden_heads:
            self.register_buffer("head_weights", golden_head_weights(num_heads), persistent=False)
        else:
            self.head_weights = None

    def _rotate(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = q.shape[-2]
        cos, sin = self.cos[:t], self.sin[:t]  # (T, R)
        return apply_rotary(q, cos, sin), apply_rotary(k, cos, sin)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, T, D) -> (B, T, D), causal."""
        t = x.shape[1]
        if t > self.max_positions:
            raise ValueError(
                f"sequence length {t} exceeds max_positions={self.max_positions}; "
                "crop the input or build the model with a larger max_positions"
            )
        transform = self._rotate if self.cos.shape[-1] else None
        return self.attn(x, qk_transform=transform, head_weights=self.head_weights)
