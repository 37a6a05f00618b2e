"""CausalSelfAttention: equals masked softmax attention, is causal, composes q/k transforms."""

import math

import pytest
import torch

from polytok.nn.attention import CausalSelfAttention


def reference_attention(module: CausalSelfAttention, x: torch.Tensor) -> torch.Tensor:
    b, t, d = x.shape
    h = module.num_heads
    q, k, v = module.qkv(x).split(d, dim=-1)
    q, k, v = (z.view(b, t, h, d // h).transpose(1, 2) for z in (q, k, v))
    scores = q @ k.transpose(-1, -2) / math.sqrt(d // h)
    mask = torch.ones(t, t, dtype=torch.bool).tril()
    scores = scores.masked_fill(~mask, float("-inf"))
    y = scores.softmax(-1) @ v
    return module.proj(y.transpose(1, 2).reshape(b, t, d))


def test_matches_masked_softmax_reference():
    torch.manual_seed(0)
    attn = CausalSelfAttention(32, 4).double()
    x = torch.randn(2, 7, 32, dtype=torch.float64)
    torch.testing.assert_close(attn(x), reference_attention(attn, x))


def test_later_tokens_do_not_change_earlier_outputs():
    torch.manual_seed(0)
    attn = CausalSelfAttention(32, 4).eval()
    x = torch.randn(1, 10, 32)
    y = x.clone()
    y[:, 6:] = torch.randn(1, 4, 32)
    assert torch.equal(attn(x)[:, :6], attn(y)[:, :6])
    assert not torch.equal(attn(x)[:, 6:], attn(y)[:, 6:])


def test_qk_transform_and_head_weights_are_applied():
    torch.manual_seed(0)
    attn = CausalSelfAttention(16, 2).double()
    x = torch.randn(1, 5, 16, dtype=torch.float64)
    identity = attn(x, qk_transform=lambda q, k: (q, k), head_weights=torch.ones(2))
    torch.testing.assert_close(identity, attn(x))
    zeroed = attn(x, head_weights=torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(zeroed, torch.zeros_like(zeroed))
    seen = {}

    def spy(q, k):
        seen["shape"] = q.shape
        return 2 * q, k

    # doubling q sharpens every head: the output changes
    assert not torch.allclose(attn(x, qk_transform=spy), attn(x))
    assert seen["shape"] == (1, 2, 5, 8)


def test_gradcheck_float64():
    torch.manual_seed(0)
    attn = CausalSelfAttention(8, 2).double()
    x = torch.randn(1, 4, 8, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda z: attn(z), (x,))


@pytest.mark.parametrize(("dim", "heads"), [(10, 3), (8, 0)])
def test_bad_head_count_raises(dim, heads):
    with pytest.raises(ValueError, match="not divisible"):
        CausalSelfAttention(dim, heads)
