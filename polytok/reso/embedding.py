"""`PrimeEmbedding`: a learned token embedding plus features of each token's prime."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from polytok.reso.primes import token_primes


def prime_features(primes: torch.Tensor, moduli: Sequence[int]) -> torch.Tensor:
    """Fixed features of primes: a scaled ``log p`` and the residues ``p mod m`` on the circle.

    ``phi(p) = [ln p / ln p_max, cos(2 pi (p mod m) / m), sin(2 pi (p mod m) / m) for m in moduli]``,
    so residues are compared by angle (``m - 1`` is next to ``0``), the usual encoding of a cyclic
    group Z/mZ.

    Args:
        primes: (V,) int64 primes.
        moduli: the moduli m (each >= 2).

    Returns:
        (V, 1 + 2 * len(moduli)) float32 features.
    """
    p = primes.to(torch.float64)
    cols = [p.log() / p.max().log()]
    for m in moduli:
        angle = 2 * math.pi * torch.remainder(primes, m).to(torch.float64) / m
        cols += [angle.cos(), angle.sin()]
    return torch.stack(cols, dim=-1).float()


class PrimeEmbedding(nn.Module):
    """E(i) = W_e[i] + W_p phi(p_i): learned rows plus a learned map of prime features.

    ``p_i = nth_prime(i + 1)`` is the prime of dense id ``i`` (the `PrimeTokenizer` bijection);
    ``phi`` is `prime_features`. With ``moduli=None`` the module is a plain embedding. The
    effective table is exposed by `weight` so an output head can be tied to it.

    Args:
        vocab_size: V.
        dim: embedding width D.
        moduli: residue moduli for the prime features, or ``None`` for no features.
    """

    def __init__(self, vocab_size: int, dim: int, moduli: Sequence[int] | None = (3, 4, 5, 7, 8)):
        super().__init__()
        if vocab_size <= 0 or dim <= 0:
            raise ValueError(f"vocab_size and dim must be positive, got {vocab_size} and {dim}")
        self.vocab_size = vocab_size
        self.dim = dim
        self.token = nn.Embedding(vocab_size, dim)
        if moduli is None:
            self.feature_proj = None
        else:
            bad = [m for m in moduli if int(m) < 2]
            if bad:
                raise ValueError(f"prime feature moduli must be >= 2, got {list(moduli)}")
            feats = prime_features(token_primes(vocab_size), [int(m) for m in moduli])
            self.register_buffer("features", feats, persistent=False)  # (V, F)
            self.feature_proj = nn.Linear(feats.shape[1], dim, bias=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Rows N(0, 0.02) as in GPT-2; ``W_p = 0`` so training starts from a plain embedding.

        A random ``W_p`` would give every token a large shared-feature component, and with a
        tied head each token's logit for tokens of similar primes starts far too high.
        """
        nn.init.normal_(self.token.weight, mean=0.0, std=0.02)
        if self.feature_proj is not None:
            nn.init.zeros_(self.feature_proj.weight)

    @property
    def weight(self) -> torch.Tensor:
        """(V, D) effective embedding table ``W_e + phi W_p^T``."""
        if self.feature_proj is None:
            return self.token.weight
        return self.token.weight + self.feature_proj(self.features.to(self.token.weight.dtype))

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, T) int64 ids -> (B, T, D) embeddings."""
        if self.feature_proj is None:
            return self.token(input_ids)
        return nn.functional.embedding(input_ids, self.weight)
