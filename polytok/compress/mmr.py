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
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


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

    Returns:
        Chunk indices, most valuable first; their costs sum to at most ``budget``.
    """
    n = len(costs)
    sums, unit = sums.float(), unit.float()
    doc = F.normalize(sums.sum(0), dim=-1)  # (D,) the whole context's mean direction
    cost = torch.tensor(costs, dtype=torch.long)  # (n,)
    scale = cost.float().clamp_min(1.0) ** weights.cost_exponent  # (n,)
    density = torch.tensor(words, dtype=torch.float) / cost.float().clamp_min(1.0)  # (n,)
    w = weights.query_weight if query_sim is not None else 0.0
    if query_sim is not None:
        query_sim = query_sim.float()
        if weights.follow_weight > 0 and n > 1:
            follow = torch.cat([query_sim.new_full((1,), -1.0), query_sim[:-1]])  # predecessor's
            query_sim = torch.maximum(query_sim, weights.follow_weight * follow)
    else:
        query_sim = torch.zeros(n)
    chosen_sum = torch.zeros_like(doc)  # (D,) token sum of the kept chunks
    redundancy = torch.zeros(n)  # max cosine to a kept chunk
    available = torch.ones(n, dtype=torch.bool)
    picks: list[int] = []
    remaining = budget
    while True:
        available &= cost <= remaining
        if not available.any():
            return picks
        current = F.normalize(chosen_sum, dim=-1) @ doc  # 0 while nothing is kept
        gain = (F.normalize(chosen_sum + sums, dim=-1) @ doc - current) / scale  # (n,)
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
        remaining -= costs[best]
        chosen_sum = chosen_sum + sums[best]
        redundancy = torch.maximum(redundancy, unit @ unit[best])
