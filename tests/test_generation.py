import math

import pytest
import torch
from torch import nn

from polytok.generation import SamplingConfig, entropy_temperature, filter_logits, generate


class BigramLM(nn.Module):
    """A real (tiny) causal LM: logits depend only on the previous token.

    Like a model with learned positions it refuses inputs longer than ``max_positions``.
    """

    max_positions = 16

    def __init__(self, vocab: int = 11) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.table = nn.Embedding(vocab, vocab)
        self.lengths: list[int] = []

    def forward(self, ids):
        if ids.shape[1] > self.max_positions:
            raise IndexError(f"{ids.shape[1]} positions > max_positions={self.max_positions}")
        self.lengths.append(ids.shape[1])
        return self.table(ids)


def test_greedy_follows_argmax_chain():
    model = BigramLM()
    out = generate(model, torch.tensor([[3]]), 5, SamplingConfig(strategy="greedy"))
    assert out.shape == (1, 6)
    for t in range(5):
        assert out[0, t + 1] == model.table.weight[out[0, t]].argmax()


def test_sampling_is_deterministic_under_seed_and_batched():
    model = BigramLM()
    x = torch.tensor([[1], [2], [3]])
    a = generate(model, x, 12, seed=7)
    b = generate(model, x, 12, seed=7)
    c = generate(model, x, 12, seed=8)
    assert a.shape == (3, 13) and torch.equal(a, b) and not torch.equal(a, c)


def test_stop_ids_pad_and_end_early():
    model = BigramLM()
    with torch.no_grad():
        model.table.weight.zero_()
        model.table.weight[:, 5] = 10.0  # every token predicts 5
    out = generate(
        model,
        torch.tensor([[1], [2]]),
        10,
        SamplingConfig(strategy="greedy"),
        stop_ids=[5],
        pad_id=0,
    )
    assert out.shape == (2, 2)  # both rows stopped after one step
    assert out[:, 1].tolist() == [5, 5]


def test_context_is_cropped_to_max_positions():
    model = BigramLM()
    prompt = torch.randint(0, 11, (2, 40), generator=torch.Generator().manual_seed(1))
    out = generate(model, prompt, 3, seed=0)  # would raise IndexError without cropping
    assert out.shape == (2, 43) and torch.equal(out[:, :40], prompt)
    assert model.lengths and max(model.lengths) == model.max_positions
    # only the last max_positions tokens matter: the same as generating from the cropped prompt
    cropped = generate(BigramLM(), prompt[:, -16:], 3, seed=0)
    assert torch.equal(out[:, 40:], cropped[:, 16:])


def test_top_k_and_top_p_filtering():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    assert torch.isinf(filter_logits(logits, 2, None)).tolist() == [[False, False, True, True]]
    # nucleus 0.7: 0.5 + 0.3 reaches it, the rest is dropped
    assert torch.isinf(filter_logits(logits, None, 0.7)).tolist() == [[False, False, True, True]]
    assert torch.isinf(filter_logits(logits, None, 0.5)).tolist() == [[False, True, True, True]]


def test_entropy_temperature_is_continuous_and_directional():
    cfg = SamplingConfig(entropy_target=1.0, entropy_strength=1.0)
    flat = torch.zeros(1, 8)  # entropy ln 8 > 1: sharpen
    peaked = torch.tensor([[10.0] + [0.0] * 7])  # entropy ~0 < 1: soften
    assert entropy_temperature(flat, cfg).item() < 1.0
    assert entropy_temperature(peaked, cfg).item() > 1.0
    assert entropy_temperature(flat, cfg).item() == pytest.approx(math.exp(1.0 - math.log(8)))
    # small changes in the logits give small changes in temperature (no jump at the target)
    a = entropy_temperature(torch.tensor([[1.0, 0.0, 0.0]]), cfg)
    b = entropy_temperature(torch.tensor([[1.001, 0.0, 0.0]]), cfg)
    assert abs(a.item() - b.item()) < 1e-3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"strategy": "beam"},
        {"temperature": 0},
        {"top_k": 0},
        {"top_p": 1.5},
        {"entropy_target": -1},
    ],
)
def test_bad_sampling_config(kwargs):
    with pytest.raises(ValueError):
        SamplingConfig(**kwargs)


def test_bad_inputs():
    with pytest.raises(ValueError, match="input_ids"):
        generate(BigramLM(), torch.zeros(3, dtype=torch.long), 2)
