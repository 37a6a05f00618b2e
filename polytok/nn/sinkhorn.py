"""Balanced assignment by Sinkhorn-Knopp scaling (Cuturi, 2013), shared by k-means and the VQ."""

from __future__ import annotations

import torch
from torch import Tensor


def sinkhorn_prices(
    cost: Tensor, epsilon: float | Tensor, n_iter: int, prices: Tensor | None = None
) -> tuple[Tensor, Tensor]:
    """Balanced assignment by Sinkhorn-Knopp scaling (Cuturi, 2013, algorithm 1).

    Solves entropic optimal transport from N points (mass 1/N each) to K clusters (mass 1/K
    each) with kernel ``exp(-cost / epsilon)`` and rounds the plan row-wise. The column scaling
    ``v`` is returned as prices ``epsilon * log v`` so that the hard assignment is
    ``argmin_k cost_ik - prices_k``, reusable on new points and as a warm start.

    Args:
        cost: (N, K) assignment costs (squared distances).
        epsilon: entropic temperature in cost units (smaller = harder, slower to converge); a
            0-dim tensor keeps the call free of host syncs.
        n_iter: scaling iterations.
        prices: optional (K,) warm start from a previous call with the same ``epsilon``.

    Returns:
        labels (N,) int64 and prices (K,).
    """
    n, k = cost.shape
    work = cost.float()
    # Row shifts are absorbed by the row scaling u; they keep exp() away from underflow.
    kernel = torch.sub(work, work.amin(1, keepdim=True)).mul_(-1.0 / epsilon).exp_()  # (N, K)
    if prices is None:
        v = torch.ones(k, dtype=kernel.dtype, device=kernel.device)
    else:
        p = prices.float()
        v = torch.exp((p - p.max()) / epsilon)
    tiny = torch.finfo(kernel.dtype).tiny
    for _ in range(n_iter):
        u = (1.0 / n) / (kernel @ v).clamp_min(tiny)  # (N,)
        v = (1.0 / k) / (kernel.t() @ u).clamp_min(tiny)  # (K,)
        v = v / v.max()
    new_prices = epsilon * torch.log(v.clamp_min(tiny))
    new_prices = (new_prices - new_prices.mean()).to(cost.dtype)
    scores = cost - new_prices  # (N, K)
    if scores.device.type == "cpu" and scores.dtype in (torch.float32, torch.float64):
        labels = torch.from_numpy(scores.numpy().argmin(1))  # numpy's SIMD argmin: ~3x faster
    else:
        labels = scores.argmin(1)
    return labels, new_prices
