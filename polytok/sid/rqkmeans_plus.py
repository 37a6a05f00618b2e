"""RQ-KMeans+: an RQ-VAE warm-started from a fitted RQ-KMeans (`rqkmeans_plus`).

The RQ-VAE gets identity skip connections, ``z = x + E(x)`` and ``x_hat = z_q + D(z_q)``, with
the last linear layer of E and of D set to zero, and its residual codebooks set to RQ-KMeans's.
At the start E and D add nothing, so ``z = x``, the residual quantizer assigns exactly the
RQ-KMeans codes (nearest codeword per level on the running residual) and ``x_hat`` is the
RQ-KMeans reconstruction: training starts at RQ-KMeans's reconstruction error and can only
improve on it by learning the corrections E and D (the RQ-KMeans+ recipe of the semantic-id
library and of OneRec-style tokenizers: residual encoder, zero-initialised last layer,
codebooks loaded from RQ-KMeans).
"""

from __future__ import annotations

import torch
from torch import nn

from polytok.sid.errors import NotFittedError


def _last_linear(module: nn.Module) -> nn.Linear:
    layers = [m for m in module.modules() if isinstance(m, nn.Linear)]
    return layers[-1]


@torch.no_grad()
def rqkmeans_plus(cls: type, rq, layers: list[int] | None = None, **options):
    """An `RQVAE` whose output equals ``rq.decode(rq.encode(x))`` before any training.

    Called as ``RQVAE.from_rqkmeans(rq, ...)`` (``cls`` is the class to build, so this module
    does not import `polytok.sid.rqvae`: no cycle).

    Args:
        cls: `RQVAE` (or a subclass).
        rq: a fitted `RQKMeans` (unbalanced: the VAE's quantizer assigns nearest codewords).
        layers: hidden widths of the correction MLPs (default ``[2 * dim]``).
        **options: other `RQVAEConfig` fields (not ``in_dim``, ``e_dim``, ``codebook_sizes``,
            ``residual`` or ``kmeans_init``, which RQ-KMeans fixes).

    Raises:
        NotFittedError: ``rq`` is not fitted.
        ValueError: ``rq`` is balanced (its codes use Sinkhorn prices, not nearest codewords).
    """
    if not rq.is_fitted:
        raise NotFittedError("RQ-KMeans+ needs a fitted RQKMeans; call rq.fit(X) first")
    if any(bool(p.abs().max() > 0) for p in rq.prices):
        raise ValueError("RQ-KMeans+ needs an unbalanced RQKMeans (balanced=False)")
    dim = rq.codebooks[0].shape[1]
    model = cls(
        in_dim=dim,
        e_dim=dim,
        codebook_sizes=list(rq.config.codebook_sizes),
        layers=list(layers) if layers is not None else [2 * dim],
        residual=True,
        kmeans_init=False,
        **options,
    )
    for part in (model.encoder, model.decoder):
        last = _last_linear(part)
        last.weight.zero_()
        last.bias.zero_()
    for vq, codebook in zip(model.rvq.layers, rq.codebooks):
        vq.codebook.data.copy_(codebook.cpu())
        vq.embed_sum.copy_(codebook.cpu() * vq.cluster_size.unsqueeze(1))
        vq.initialized.fill_(True)
        vq._known_initialized = True
    model._fresh = False
    return model.to(rq.codebooks[0].device)
