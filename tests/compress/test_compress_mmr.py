"""Budgeted MMR selection: budget, query relevance, redundancy, cost scaling and word density."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from polytok.compress import CompressorConfig
from polytok.compress.mmr import MMRWeights, select_mmr, standardize


def _weights(**kw) -> MMRWeights:
    base = dict(
        mmr_lambda=0.95, query_weight=0.5, follow_weight=0.0, cost_exponent=0.5, density_weight=0.0
    )
    return MMRWeights(**{**base, **kw})


def test_standardize() -> None:
    x = torch.tensor([1.0, 2.0, 3.0, 100.0])
    mask = torch.tensor([True, True, True, False])
    z = standardize(x, mask)
    assert z[:3].mean().abs() < 1e-6 and z[:3].std(unbiased=False) == pytest.approx(1.0)
    assert torch.equal(standardize(torch.ones(3), torch.ones(3, dtype=torch.bool)), torch.zeros(3))


def test_budget_query_and_redundancy() -> None:
    torch.manual_seed(0)
    unit = F.normalize(torch.randn(6, 16), dim=-1)
    unit[1] = unit[0]  # an exact duplicate of chunk 0
    sums = unit * 10
    costs, words = [10] * 6, [8] * 6
    query = unit @ unit[0]  # the query is chunk 0's topic
    picks = select_mmr(sums, unit, query, costs, words, 25, _weights(query_weight=1.0))
    assert picks[0] in (0, 1) and len(picks) == 2 and sum(costs[i] for i in picks) <= 25
    # with novelty weighted in, the duplicate is not kept next to its original
    novel = select_mmr(
        sums, unit, query, costs, words, 25, _weights(query_weight=1.0, mmr_lambda=0.3)
    )
    assert not {0, 1} <= set(novel)
    assert select_mmr(sums, unit, query, costs, words, 9, _weights()) == []  # nothing fits
    everything = select_mmr(sums, unit, None, costs, words, 1000, _weights())
    assert sorted(everything) == list(range(6))


def test_density_and_cost_scaling() -> None:
    unit = F.normalize(torch.ones(4, 8) + torch.eye(4, 8) * 0.01, dim=-1)  # near-equal topics
    sums = unit * torch.tensor([[5.0], [5.0], [40.0], [40.0]])
    costs, words = [5, 5, 40, 40], [2, 6, 20, 20]
    dense = select_mmr(sums, unit, None, costs, words, 5, _weights(density_weight=1.0))
    assert dense == [1]  # 6 words for 5 tokens beats 2 words for 5 tokens
    # gain per token (r = 1) favours the cheap chunk; r = 0 the one that covers the most
    cheap = select_mmr(sums, unit, None, costs, [1] * 4, 45, _weights(cost_exponent=1.0))
    assert costs[cheap[0]] == 5
    assert (
        costs[select_mmr(sums, unit, None, costs, [1] * 4, 45, _weights(cost_exponent=0.0))[0]]
        == 40
    )


def test_config_validation_of_new_weights() -> None:
    with pytest.raises(ValueError, match="cost_exponent"):
        CompressorConfig(cost_exponent=2.0)
    with pytest.raises(ValueError, match="density_weight"):
        CompressorConfig(density_weight=-1.0)
    with pytest.raises(ValueError, match="density_weight"):
        CompressorConfig(density_weight=float("nan"))
