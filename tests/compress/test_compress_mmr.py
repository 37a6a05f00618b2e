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


def _reference_greedy(sums, unit, query_sim, costs, words, budget, weights) -> list[int]:
    """The quadratic greedy as first written (renormalises every candidate each step)."""
    n = len(costs)
    doc = F.normalize(sums.sum(0), dim=-1)
    cost = torch.tensor(costs)
    scale = cost.float().clamp_min(1.0) ** weights.cost_exponent
    density = torch.tensor(words, dtype=torch.float) / cost.float().clamp_min(1.0)
    w = weights.query_weight if query_sim is not None else 0.0
    query_sim = query_sim if query_sim is not None else torch.zeros(n)
    chosen, redundancy = torch.zeros_like(doc), torch.zeros(n)
    available, picks, remaining = torch.ones(n, dtype=torch.bool), [], budget
    while True:
        available &= cost <= remaining
        if not available.any():
            return picks
        current = F.normalize(chosen, dim=-1) @ doc
        gain = (F.normalize(chosen + sums, dim=-1) @ doc - current) / scale
        relevance = (
            w * standardize(query_sim, available)
            + (1 - w) * standardize(gain, available)
            + weights.density_weight * standardize(density, available)
        )
        score = weights.mmr_lambda * relevance - (1 - weights.mmr_lambda) * redundancy
        score[~available] = float("-inf")
        best = int(score.argmax())
        picks.append(best)
        available[best] = False
        remaining -= costs[best]
        chosen = chosen + sums[best]
        redundancy = torch.maximum(redundancy, unit @ unit[best])


@pytest.mark.parametrize("seed", range(4))
def test_incremental_gains_equal_the_quadratic_greedy(seed) -> None:
    g = torch.Generator().manual_seed(seed)
    n = 120
    unit = F.normalize(torch.randn(n, 24, generator=g), dim=-1)
    sums = unit * torch.randint(3, 40, (n, 1), generator=g).float()
    costs = torch.randint(3, 40, (n,), generator=g).tolist()
    words = torch.randint(1, 30, (n,), generator=g).tolist()
    query = unit @ unit[seed] if seed % 2 else None
    weights = _weights(density_weight=0.4, follow_weight=0.0)
    budget = sum(costs) // 3
    fast = select_mmr(sums, unit, query, costs, words, budget, weights)
    assert fast == _reference_greedy(sums, unit, query, costs, words, budget, weights)


def test_long_contexts_are_selected_window_by_window() -> None:
    g = torch.Generator().manual_seed(0)
    n, block = 1000, 128
    unit = F.normalize(torch.randn(n, 16, generator=g), dim=-1)
    sums, costs, words = unit * 10, [10] * n, [8] * n
    picks = select_mmr(sums, unit, None, costs, words, 3000, _weights(), block_size=block)
    assert len(picks) == len(set(picks)) == 300  # the whole budget is used, nothing twice
    windows = [sum(1 for i in picks if i // block == b) for b in range(-(-n // block))]
    # cumulative token shares: floor(3000 * 1280 k / 10000) minus what earlier windows used
    assert windows == [38, 38, 39, 38, 39, 38, 38, 32]
    assert [i // block for i in picks[:8]] == list(range(8))  # interleaved by rank
    exact = select_mmr(sums, unit, None, costs, words, 3000, _weights(), block_size=n)
    assert sorted(exact) != sorted(picks) and len(exact) == 300  # one window = the exact greedy
    with pytest.raises(ValueError, match="block_size"):
        select_mmr(sums, unit, None, costs, words, 30, _weights(), block_size=0)


def test_selection_stops_at_its_deadline_or_cancel() -> None:
    import threading

    from polytok.compress.limits import WorkLimitExceeded, work_limits

    unit = F.normalize(torch.randn(300, 16), dim=-1)
    args = (unit * 5, unit, None, [5] * 300, [4] * 300, 1000, _weights())
    with work_limits(1e-9), pytest.raises(WorkLimitExceeded, match="did not finish within"):
        select_mmr(*args)
    cancel = threading.Event()
    cancel.set()
    with work_limits(None, cancel), pytest.raises(WorkLimitExceeded, match="shutting down"):
        select_mmr(*args)
    assert len(select_mmr(*args)) == 200  # no limits outside the block
