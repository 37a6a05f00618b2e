"""Fit metrics for semantic IDs: reconstruction error, codebook usage, collisions."""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def _row_keys(codes: Tensor, codebook_sizes: list[int]) -> Tensor:
    """(N, L) codes -> (N,) one int64 per full code (mixed radix; a 1-D unique is ~10x faster
    than ``unique(dim=0)``), or the codes themselves when the radix would overflow int64."""
    if math.prod(codebook_sizes) >= 2**62:
        return codes
    key = torch.zeros(codes.shape[0], dtype=torch.long, device=codes.device)
    for level, size in enumerate(codebook_sizes):
        key = key * size + codes[:, level]
    return key


def code_metrics(codes: Tensor, codebook_sizes: list[int]) -> dict:
    """Usage, perplexity and collision statistics of hierarchical codes.

    Args:
        codes: (N, L) int64 codes.
        codebook_sizes: K_l per level.

    Returns:
        ``usage`` (share of each level's codewords used) and ``perplexity`` (``exp`` of the
        entropy of each level's code distribution) as lists over levels; ``collision_rate``
        (share of items whose full code is shared with another item), ``duplicate_rate``
        (``1 - distinct / N``), ``largest_bucket`` (most items on one full code) and
        ``n_distinct``.
    """
    n = codes.shape[0]
    usage, perplexity = [], []
    for level, size in enumerate(codebook_sizes):
        # integer counts to the host; the entropy in float64 numpy (MPS has no float64)
        counts = torch.bincount(codes[:, level], minlength=size).cpu().numpy()
        probs = counts[counts > 0] / max(n, 1)
        usage.append(float((counts > 0).sum()) / size)
        perplexity.append(math.exp(float(-(probs * np.log(probs)).sum())) if n else 0.0)
    if n:
        keys = _row_keys(codes, codebook_sizes)
        _, bucket = torch.unique(keys, dim=0 if keys.ndim == 2 else None, return_counts=True)
        distinct, largest = bucket.numel(), int(bucket.max())
        shared = int(bucket[bucket > 1].sum())
    else:
        distinct = largest = shared = 0
    return {
        "usage": usage,
        "perplexity": perplexity,
        "collision_rate": shared / n if n else 0.0,
        "duplicate_rate": 1.0 - distinct / n if n else 0.0,
        "largest_bucket": largest,
        "n_distinct": distinct,
    }


def _host_sum(rows: Tensor) -> float:
    """Sum of ``(N,)`` per-row float32 sums in float64 on the host (MPS has no float64)."""
    return float(rows.detach().float().cpu().numpy().sum(dtype=np.float64))


def fit_metrics(x: Tensor, residual: Tensor, codes: Tensor, codebook_sizes: list[int]) -> dict:
    """`code_metrics` plus ``rel_mse = ||X - X_hat||^2 / ||X - mean(X)||^2`` and ``mse``.

    Args:
        x: (N, D) data.
        residual: (N, D) reconstruction error ``X - X_hat``.
        codes: (N, L) codes.
        codebook_sizes: K_l per level.
    """
    err = _host_sum(residual.pow(2).sum(1))
    var = _host_sum((x - x.mean(0)).pow_(2).sum(1))
    metrics = {
        "rel_mse": err / var if var > 0 else 0.0,
        "mse": err / max(x.numel(), 1),
    }
    metrics.update(code_metrics(codes, codebook_sizes))
    return metrics
