"""Budgeted Maximal Marginal Relevance over static sentence embeddings.

At each step the candidate (a chunk that still fits the remaining budget) with the highest

    MMR(c) = lambda * rel(c | S) - (1 - lambda) * max_{s in S} cos(e_c, e_s)

is kept (Carbonell & Goldstein, 1998, eq. 1), where

    rel(c | S) = w * z(qsim(c)) + (1 - w) * z(gain(c | S)) + rho * z(words(c) / cost(c))

* ``qsim(c)`` is the cosine of the chunk's embedding and the query's, at least ``follow_weight``
  times its predecessor's (the answer after a question is relevant too);
* ``gain(c | S) = [cos(m(S + c), d) - cos(m(S), d)] / cost(c)^r`` is the cost-scaled marginal
  gain of the greedy centroid objective (Gholipour Ghalandari, 2017): ``m(.)`` is the token-sum
  of the kept text, ``d`` the whole context's mean direction. Dividing by ``cost^r`` is the
  scaled-cost greedy rule for knapsack-constrained submodular selection (Lin & Bilmes, 2010,
  Algorithm 1 with scaling factor ``r``);
* ``words(c) / cost(c)`` is the chunk's information density (words per budget token), so text
  that spends the budget on many words (rather than on names, numbers or markup) is preferred;
* ``z`` standardises a term over the remaining candidates, so the weights ``w`` and ``rho`` weigh
  influence rather than scale; without a query ``w = 0``.

Cost. One greedy step scores every candidate against the last pick, O(n·D), so the exact greedy
costs O(k·n·D) for k picks: quadratic in the context's length. Up to ``block_size`` (512) chunks
the selection is that exact greedy. Longer contexts are cut into windows of ``block_size``
consecutive chunks; each window gets the budget in proportion to its tokens (plus what earlier
windows left unused) and runs the same greedy against the whole context's direction ``d``. The
cost is then O(n·block_size·D): linear in the context's length. Picks are returned interleaved
by their rank within their window, so trimming from the end drops the least valuable picks of
every window alike. Every step calls `polytok.compress.limits.check_limits` (deadline, cancel).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from polytok.compress.limits import check_limits

BLOCK_SIZE = 512  # chunks per window of the linear-time selection (exact greedy up to this)


@dataclass(frozen=True)
class MMRWeights:
    """The weights of `select_mmr` (`polytok.compress.CompressorConfig` documents each)."""

    mmr_lambda: float
    query_weight: float
    follow_weight: float
    cost_exponent: float
    density_weight: float


def standardize(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """``(x - mean) / std`` over ``x[mask]`` (zeros where the spread is nil).

    Args:
        x: (n,) values; mask: (n,) bool, the candidates the statistics are taken over.
    """
    values = x[mask]
    spread = values.std(unbiased=False) if values.numel() > 1 else values.new_zeros(())
    if spread <= 1e-12:
        return torch.zeros_like(x)
    return (x - values.mean()) / spread


def select_mmr(
    sums: torch.Tensor,
    unit: torch.Tensor,
    query_sim: torch.Tensor | None,
    costs: list[int],
    words: list[int],
    budget: int,
    weights: MMRWeights,
    block_size: int = BLOCK_SIZE,
) -> list[int]:
    """Pick chunks by budgeted MMR (module docstring); indices in the order chosen.

    Args:
        sums: (n, D) token-vector sums of each chunk with its preceding separator.
        unit: (n, D) unit-norm chunk embeddings.
        query_sim: (n,) cosine of each chunk's embedding with the query's, or None.
        costs: token cost of each chunk (with its separator) for the target model.
        words: words in each chunk.
        budget: tokens available.
        weights: the selection weights.
        block_size: contexts of more chunks are selected window by window (linear time).

    Returns:
        Chunk indices, most valuable first; their costs sum to at most ``budget``.

    Raises:
        polytok.compress.limits.WorkLimitExceeded: the current deadline passed or the work was
            cancelled (only inside `polytok.compress.limits.work_limits`).
    """
    if block_size < 1:
        raise ValueError(f"block_size must be >= 1, got {block_size}")
    n = len(costs)
    sums, unit = sums.float(), unit.float()
    doc = F.normalize(sums.sum(0), dim=-1)  # (D,) the whole context's mean direction
    cost = torch.tensor(costs, dtype=torch.long)  # (n,)
    scale = cost.float().clamp_min(1.0) ** weights.cost_exponent  # (n,)
    density = torch.tensor(words, dtype=torch.float) / cost.float().clamp_min(1.0)  # (n,)
    if query_sim is not None:
        query_sim = query_sim.float()
        if weights.follow_weight > 0 and n > 1:
            follow = torch.cat([query_sim.new_full((1,), -1.0), query_sim[:-1]])  # predecessor's
            query_sim = torch.maximum(query_sim, weights.follow_weight * follow)
    terms = _Terms(sums, unit, doc, cost, scale, density, query_sim, weights)
    if n <= block_size:
        return _greedy(terms, 0, n, budget)
    ranked: list[list[int]] = []
    total, seen, granted = max(int(cost.sum()), 1), 0, 0
    for start in range(0, n, block_size):
        stop = min(n, start + block_size)
        seen += int(cost[start:stop].sum())
        share = budget * seen // total - granted  # cumulative shares: no rounding loss
        picks = _greedy(terms, start, stop, share)
        granted += sum(costs[i] for i in picks)  # unused budget flows to the next window
        ranked.append(picks)
    depth = max(map(len, ranked), default=0)
    return [picks[r] for r in range(depth) for picks in ranked if r < len(picks)]


@dataclass(frozen=True)
class _Terms:
    """Per-chunk quantities of the selection (all (n, ...) tensors over the whole context)."""

    sums: torch.Tensor
    unit: torch.Tensor
    doc: torch.Tensor
    cost: torch.Tensor
    scale: torch.Tensor
    density: torch.Tensor
    query_sim: torch.Tensor | None
    weights: MMRWeights


def _greedy(t: _Terms, start: int, stop: int, budget: int) -> list[int]:
    """Exact budgeted MMR over chunks ``[start, stop)``; global indices in the order chosen.

    The coverage gain is kept incrementally: with ``m`` the kept token sum, ``a_c = s_c . d``,
    ``b_c = |s_c|^2`` and ``g_c = s_c . m``, ``cos(m + s_c, d) = (m . d + a_c) /
    sqrt(|m|^2 + 2 g_c + b_c)``, so a step costs two matrix-vector products (``g`` and the
    redundancy) and O(n) elementwise work instead of renormalising (n, D) sums.
    """
    weights = t.weights
    sums, unit = t.sums[start:stop], t.unit[start:stop]
    cost, scale, density = t.cost[start:stop], t.scale[start:stop], t.density[start:stop]
    n = stop - start
    w = weights.query_weight if t.query_sim is not None else 0.0
    query_sim = t.query_sim[start:stop] if t.query_sim is not None else torch.zeros(n)
    along = sums @ t.doc  # (n,) a_c
    square = (sums * sums).sum(-1)  # (n,) b_c
    cross = torch.zeros(n)  # (n,) g_c = s_c . m
    kept_dot, kept_square = 0.0, 0.0  # m . d and |m|^2
    redundancy = torch.zeros(n)  # max cosine to a kept chunk
    available = torch.ones(n, dtype=torch.bool)
    picks: list[int] = []
    remaining = budget
    while True:
        check_limits()
        available &= cost <= remaining
        if not available.any():
            return [start + i for i in picks]
        current = kept_dot / max(math.sqrt(kept_square), 1e-12)  # 0 while nothing is kept
        norm = (kept_square + 2.0 * cross + square).clamp_min(0.0).sqrt().clamp_min(1e-12)
        gain = ((kept_dot + along) / norm - current) / scale  # (n,)
        relevance = (
            w * standardize(query_sim, available)
            + (1.0 - w) * standardize(gain, available)
            + weights.density_weight * standardize(density, available)
        )
        score = weights.mmr_lambda * relevance - (1.0 - weights.mmr_lambda) * redundancy
        score[~available] = float("-inf")
        best = int(score.argmax())
        picks.append(best)
        available[best] = False
        remaining -= int(cost[best])
        kept_dot += float(along[best])
        kept_square += 2.0 * float(cross[best]) + float(square[best])
        cross += sums @ sums[best]
        redundancy = torch.maximum(redundancy, unit @ unit[best])
