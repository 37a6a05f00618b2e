"""`EntropyCollapse`: a vector-quantized residual branch on the last layer.

TinyAleph "collapses" the state onto one of 64 codes and *replaces* the stream by it, which caps
the information a token can pass to the head at 6 bits (measured: 2.70 nats against 1.89 for a
plain GPT). Here the collapse is a residual branch: the normalised state is projected to a small
code space, quantized by the shared `polytok.nn.quantize.VectorQuantizer` (straight-through
estimator and commitment loss, van den Oord et al. 2017, VQ-VAE, eq. 3; EMA codebook, k-means
init and dead-code restart), and the code's embedding is added back,
``y = x + alpha W_out q(W_in LN(x))`` with a learnable ``alpha`` that starts small, so the
stream keeps all its information while the model may use the discrete state.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import nn

from polytok.nn.quantize import VectorQuantizer


class CollapseOutput(NamedTuple):
    """Output of `EntropyCollapse`.

    Attributes:
        hidden: (B, T, D) the stream with the code branch added.
        codes: (B, T) int64 code index of every token.
        loss: scalar commitment (and codebook) loss, to add to the training loss.
        perplexity: scalar ``exp(H)`` of the batch's code distribution (1..codebook_size).
        usage: scalar fraction of codes used in the batch.
    """

    hidden: torch.Tensor
    codes: torch.Tensor
    loss: torch.Tensor
    perplexity: torch.Tensor
    usage: torch.Tensor


class EntropyCollapse(nn.Module):
    """y = x + alpha W_out q(W_in LN(x)) with q a ``codebook_size``-code vector quantizer.

    Args:
        dim: model width D.
        codebook_size: number of codes (TinyAleph uses 64).
        code_dim: width of the code space (small: the branch costs ``2 D code_dim`` parameters).
        commitment_weight: beta of the commitment loss.
        decay: EMA decay of the codebook.
        alpha: initial residual scale of the branch.
        kmeans_init: initialise the codebook with k-means on the first batch.
        dead_code_threshold: codes used fewer times (EMA count) are restarted from batch vectors.
    """

    def __init__(
        self,
        dim: int,
        codebook_size: int = 64,
        code_dim: int = 32,
        commitment_weight: float = 0.25,
        decay: float = 0.99,
        alpha: float = 0.1,
        kmeans_init: bool = True,
        dead_code_threshold: float = 1.0,
    ) -> None:
        super().__init__()
        if code_dim <= 0:
            raise ValueError(f"code_dim must be positive, got {code_dim}")
        self.norm = nn.LayerNorm(dim)
        self.inp = nn.Linear(dim, code_dim, bias=False)
        self.quantizer = VectorQuantizer(
            code_dim,
            codebook_size,
            commitment_weight=commitment_weight,
            decay=decay,
            kmeans_init=kmeans_init,
            dead_code_threshold=dead_code_threshold,
        )
        self.out = nn.Linear(code_dim, dim, bias=False)
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))

    def forward(self, x: torch.Tensor) -> CollapseOutput:
        """(B, T, D) -> `CollapseOutput` (per-token: no mixing across positions)."""
        z = self.inp(self.norm(x))  # (B, T, D) -> (B, T, code_dim)
        vq = self.quantizer(z)
        hidden = x + self.alpha * self.out(vq.quantized)
        return CollapseOutput(hidden, vq.codes, vq.loss, vq.perplexity, vq.usage)
