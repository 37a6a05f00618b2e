"""Causal multi-head self-attention on `torch.nn.functional.scaled_dot_product_attention`.

Attention(Q, K, V) = softmax(Q K^T / sqrt(d) + M) V with the causal mask M (Vaswani et al. 2017,
eq. 1), computed by SDPA with ``is_causal=True`` so fused kernels are used where available.
Variants (rotary positions, resonance phases, per-head output weights) compose this module
through ``qk_transform`` and ``head_weights`` instead of copying it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

QKTransform = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


class CausalSelfAttention(nn.Module):
    """Causal multi-head self-attention with a fused QKV projection.

    Args:
        dim: model width D.
        num_heads: number of heads H (``dim % num_heads == 0``).
        dropout: dropout on attention weights (training only) and on the output.
        bias: whether the projections have biases.
    """

    def __init__(self, dim: int, num_heads: int, dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        if num_heads <= 0 or dim % num_heads:
            raise ValueError(
                f"dim={dim} is not divisible by num_heads={num_heads}; choose num_heads that "
                "divides dim (e.g. dim=128, num_heads=4)"
            )
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.dim = dim
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.dropout = dropout
        self.qkv = nn.Linear(dim, 3 * dim, bias=bias)
        self.proj = nn.Linear(dim, dim, bias=bias)
        self.resid_dropout = nn.Dropout(dropout)

    def forward(
        self,
        x: torch.Tensor,
        qk_transform: QKTransform | None = None,
        head_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Attend causally over the sequence.

        Args:
            x: (B, T, D) inputs.
            qk_transform: optional ``f(q, k) -> (q, k)`` on (B, H, T, D/H) tensors applied before
                the scores (rotary / resonance phases). It must act per position so causality holds.
            head_weights: optional (H,) multipliers of each head's output before the projection.

        Returns:
            (B, T, D) outputs.
        """
        b, t, d = x.shape
        qkv = self.qkv(x).view(b, t, 3, self.num_heads, self.head_dim)  # (B, T, 3, H, D/H)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # 3 x (B, H, T, D/H)
        if qk_transform is not None:
            q, k = qk_transform(q, k)
        y = F.scaled_dot_product_attention(
            q, k, v, dropout_p=self.dropout if self.training else 0.0, is_causal=True
        )  # (B, H, T, D/H)
        if head_weights is not None:
            y = y * head_weights.to(y.dtype).view(1, -1, 1, 1)
        y = y.transpose(1, 2).reshape(b, t, d)  # (B, H, T, D/H) -> (B, T, D)
        return self.resid_dropout(self.proj(y))
